"""Ids are built and parsed in store/ids.py only; the vocabulary holds every value a table uses."""

import re
from pathlib import Path

import pytest

from store import ids
from store.vocab import BASELINE_ARCH, Appliance, Arch, Baseline, Mode, Split

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("pipeline", "store", "dashboard")

# words that name an id or one of its parts, in an f-string field or before a split
_ID_WORD = r"(appliance|arch|mode|model\w*|variant\w*|vid|mid|\w+_id|split|house|baseline)"
_FIELD = r"\{[^{}]*\}"
ID_PATTERNS = {
    # f"{appliance.value}.{arch.value}", f"{model_id}.{mode}": two fields joined by a dot where
    # either names an id part (f"{fn.__module__}.{fn.__qualname__}" or a temp file's
    # f"{path}.{os.getpid()}" is no id)
    "f-string id": re.compile(
        rf"f['\"][^'\"]*(\{{[^{{}}]*\b{_ID_WORD}\b[^{{}}]*\}}\.{_FIELD}"
        rf"|{_FIELD}\.\{{[^{{}}]*\b{_ID_WORD}\b[^{{}}]*\}})"
    ),
    # f"{model_id}.keras", f"{appliance}.baseline...", f"{a}.train", f"{model}@{host}"
    "f-string id tail": re.compile(
        rf"f['\"][^'\"]*{_FIELD}(\.(keras|baseline|convert_only|train|val|test)\b|@\{{)"
    ),
    "house split": re.compile(r"@house(\{|%|['\"])"),
    # vid.split("."), model_id.rsplit(".", 1), split.partition(".")
    "id parsed on dots": re.compile(
        rf"\b{_ID_WORD}\b[\w\[\]\"']*\s*\.\s*r?(split|partition)\(\s*['\"]\.['\"]"
    ),
    # v.model_id || '.keras' in SQL
    "SQL id concatenation": re.compile(r"\|\|\s*'\."),
    # vid.endswith(".keras"), ".transformer." in vid
    "id matched by its text": re.compile(
        r"endswith\(\(?\s*['\"]\.(keras|w8|baseline|cnn|transformer)|['\"]\.\w+\.['\"]\s+in\b"
    ),
}


def _sources():
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() != "store/ids.py":
                yield path


def test_no_id_is_built_or_parsed_outside_store_ids():
    found = []
    for path in _sources():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split(" #")[0]
            if code.lstrip().startswith("#"):
                continue
            for what, pattern in ID_PATTERNS.items():
                if pattern.search(code):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {what}: {line.strip()}")
    assert not found, "ids are built and parsed in store/ids.py:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'model_id = f"{appliance.value}.{arch.value}"',
        'vid = f"{job.model_id}.{mode.value}"',
        '"variant_id": f"{model_id}.keras",',
        'vid = f"{appliance.value}.baseline.{name}"',
        '[f"{a.value}.{split.value}"]',
        'return f"{Split.TEST.value}@house{house}"',
        'item = f"{model_id}@{host}"',
        'return vid.split(".")[0]',
        "JOIN metrics f ON f.variant_id = v.model_id || '.keras' AND",
        "split LIKE 'test@house%'",
        'if i.endswith((".keras", ".w8_a8"))',
        'row = {"house": split.removeprefix("test@house")}',
        'return "dash" if ".transformer." in f".{variant}." else "solid"',
    ],
)
def test_the_scan_finds_each_way_an_id_was_built_or_parsed(line):
    assert any(p.search(line) for p in ID_PATTERNS.values()), line


@pytest.mark.parametrize(
    "line",
    [
        'name = f"{fn.__module__}.{fn.__qualname__}"',
        'tmp = Path(f"{path}.{os.getpid()}.tmp")',
        'return f"{stem}.{sha256[:HASH_CHARS]}{suffix}"',
        'base, _, arch = key.rpartition(".")',
        'parts = path.name.split(".")',
        'return f"{v:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"',
    ],
)
def test_the_scan_leaves_other_dotted_strings_alone(line):
    assert not any(p.search(line) for p in ID_PATTERNS.values()), line


def test_ids_build_and_parse_back():
    mid = ids.model_id(Appliance.KETTLE, Arch.TRANSFORMER)
    vid = ids.variant_id(mid, Mode.W8_A8)
    assert (mid, vid) == ("kettle.transformer", "kettle.transformer.w8_a8")
    assert ids.model_of(vid) == mid and ids.mode_of(vid) == "w8_a8"
    assert ids.appliance_of(vid) == "kettle" and ids.arch_of(vid) == "transformer"
    assert ids.float_variant_id(mid) == "kettle.transformer.keras"
    assert ids.float_references(vid) == (
        "kettle.transformer.keras",
        "kettle.transformer.convert_only",
    )
    base = ids.variant_id(ids.baseline_model_id(Appliance.FRIDGE), Baseline.ALWAYS_OFF)
    assert base == "fridge.baseline.always_off" and ids.is_baseline(base)
    assert ids.arch_of(base) == BASELINE_ARCH and ids.float_references(base) == (None, None)
    assert ids.dataset_id(Appliance.KETTLE, Split.TRAIN) == "kettle.train"
    assert ids.house_split(2) == "test@house2" and ids.house_of_split("test@house2") == "2"
    assert ids.house_of_split("test") is None and ids.house_of_split("test_trace") is None
    assert ids.mode_of(None) == "" and ids.arch_of("w8_a8") is None


def test_the_float_variant_sql_joins_as_the_python_id():
    import duckdb

    con = duckdb.connect()
    sql = ids.float_variant_sql("m")
    got = con.execute(f"SELECT {sql} FROM (SELECT 'kettle.cnn' AS m)").fetchone()[0]
    assert got == ids.float_variant_id("kettle.cnn")
    like = con.execute("SELECT ? LIKE ?", [ids.house_split(5), ids.HOUSE_SPLIT_LIKE])
    assert like.fetchone()[0]
