"""Each setting is in exactly the cache keys of the stages that read it: changed, it reruns those
stages and no other (keys computed on fixed fake inputs, nothing trained)."""

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.convert.stage import convert_key
from pipeline.data.stage import data_key
from pipeline.evaluate.stage import evaluate_key
from pipeline.measure.stage import profile_key
from pipeline.settings.overrides import CONFIG_KEYS, apply_overrides
from pipeline.settings.presets import ProfileConfig, profile_config
from pipeline.settings.registry import BY_KEY, SETTINGS, STAGES
from pipeline.settings.stages import stage_settings
from pipeline.train.stage import train_key
from store.vocab import Appliance, Arch, Mode, Runtime

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ("article_loss", "int8_io", "article_postprocess")
VARIANTS = [{"variant_id": "kettle.cnn.w8_a8", "sha256": "f"}]


def _options(**on):
    return SimpleNamespace(**{o: on.get(o, False) for o in OPTIONS})


def stage_keys(cfg, options, synthetic=True) -> dict[str, tuple]:
    """Every stage's cache key(s) on fixed inputs; train and convert once per architecture."""
    per_arch = tuple(Arch)

    def settings(stage, arch=None):
        return stage_settings(stage, cfg, options, arch, synthetic=synthetic)

    ctx = SimpleNamespace(cfg=cfg, options=options)
    return {
        "data": (data_key(settings("data"), "c", {"source": "x"}, Appliance.KETTLE, [1]),),
        "train": tuple(
            train_key(ctx, a, {"sha256": "t"}, {"sha256": "v"}, Appliance.KETTLE) for a in per_arch
        ),
        "convert": tuple(convert_key(settings("convert", a), "m", "t") for a in per_arch),
        "evaluate": (evaluate_key(settings("evaluate"), [["kettle.test", "d"]], VARIANTS),),
        "profile": (profile_key(settings("profile"), "host", VARIANTS),),
    }


def changed(cfg: ProfileConfig, key: str):
    """A valid value of setting ``key`` other than cfg's (for a per-architecture setting: the
    same change for both architectures)."""
    s = BY_KEY[key]
    cur = getattr(cfg, s.field)
    cur = cur[Arch.TRANSFORMER] if s.per_arch else cur
    if s.kind == "choice":
        return next(c for c in s.choices if c != cur)
    if s.kind == "flag":
        return not cur
    if s.kind == "threads":
        return [*cur, max(cur) + 1]
    if s.kind == "runtimes":
        return [r.value for r in Runtime if r not in cur] or [cur[0].value]
    if s.kind == "modes":
        modes = list(Mode) if cur is None else list(cur)
        return [m.value for m in modes[:-1] if m is not Mode.QAT_W8_A8_XNNPACK][:3]
    if s.kind == "count":
        return 1000 if cur is None else cur + 1
    if s.kind == "share":
        return 0.25 if cur is None or cur > 0.3 else cur + 0.1
    return 0.5 if cur is None else cur * 2 + 0.5


@pytest.mark.parametrize("profile", ["smoke", "demo"])
@pytest.mark.parametrize("key", list(CONFIG_KEYS))
def test_each_setting_changes_exactly_the_keys_of_the_stages_that_read_it(profile, key):
    base = profile_config(profile)
    before = stage_keys(base, _options())
    after = stage_keys(apply_overrides(base, {key: changed(base, key)}), _options())
    reran = {stage for stage in STAGES if before[stage] != after[stage]}
    assert reran == set(BY_KEY[key].stages), key


@pytest.mark.parametrize(
    "option, stages",
    [
        ("article_loss", {"train", "convert"}),
        ("int8_io", {"convert"}),
        ("article_postprocess", {"evaluate"}),
    ],
)
def test_each_option_changes_exactly_the_keys_of_the_stages_that_read_it(option, stages):
    base = profile_config("smoke")  # its transformer is fine-tuned with fake-quant (reads the loss)
    before = stage_keys(base, _options())
    after = stage_keys(base, _options(**{option: True}))
    assert {s for s in STAGES if before[s] != after[s]} == stages


def test_what_a_run_does_not_use_reruns_nothing():
    smoke = profile_config("smoke")  # the CNN has no fine-tune with fake-quant
    before = stage_keys(smoke, _options())
    # the fine-tune's settings of the CNN: its training reruns, its conversion does not
    after = stage_keys(apply_overrides(smoke, {"train.batch.cnn": 32}), _options())
    assert before["train"][0] != after["train"][0] and before["train"][1] == after["train"][1]
    assert before["convert"] == after["convert"]
    # the embedded data's settings, for real data
    real = stage_keys(smoke, _options(), synthetic=False)["data"]
    more = apply_overrides(smoke, {"data.synthetic_days": 9.0, "seed": 7})
    assert stage_keys(more, _options(), synthetic=False)["data"] == real
    # the setting and the flag of the article's post-processing are one choice
    flag = stage_keys(smoke, _options(article_postprocess=True))["evaluate"]
    setting = apply_overrides(smoke, {"evaluate.postprocess": "threshold"})
    assert stage_keys(setting, _options())["evaluate"] == flag


def test_every_profile_field_is_one_registered_setting():
    # per_appliance holds other settings' values for one appliance (ProfileConfig.for_appliance)
    fields = {f.name for f in dataclasses.fields(ProfileConfig)} - {"name", "per_appliance"}
    assert sorted(s.field for s in SETTINGS) == sorted(fields)
    for s in SETTINGS:
        assert bool(s.stages) != bool(s.unkeyed), f"{s.key}: a stage's key, or why none"


STAGE_PACKAGES = {
    "data": "data",
    "train": "train",
    "convert": "convert",
    "evaluate": "evaluate",
    "profile": "measure",
}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.key)
def test_a_stage_that_reads_a_setting_has_it_in_its_key(setting):
    """The code's reads of cfg.<field> in each stage's package, against the registry: a stage
    reading a setting its key does not hold would serve stale results."""
    if setting.unkeyed:
        pytest.skip(setting.unkeyed)
    read = re.compile(rf"cfg\.{setting.field}\b")
    readers = {
        stage
        for stage, package in STAGE_PACKAGES.items()
        if any(read.search(p.read_text()) for p in (ROOT / "pipeline" / package).rglob("*.py"))
    }
    assert readers <= set(setting.stages), f"{setting.key} is read by {readers}"


def test_an_appliance_setting_changes_only_that_appliances_training_and_conversion(tmp_path):
    """`appliance.kettle.train.*` is in the kettle's train and convert keys (its QAT fine-tune
    reads on_fraction) and in no other appliance's, and no evaluate or profile key."""
    from pipeline.convert.stage import _cache_key

    base = profile_config("demo")
    own = apply_overrides(base, {"appliance.kettle.train.on_fraction": 0.03})
    rows = ({"sha256": "t"}, {"sha256": "v"})
    ctx = SimpleNamespace(cfg=base, options=_options())
    mine = SimpleNamespace(cfg=own, options=_options())
    for arch in Arch:
        assert train_key(ctx, arch, *rows, Appliance.KETTLE) != train_key(
            mine, arch, *rows, Appliance.KETTLE
        )
        assert train_key(ctx, arch, *rows, Appliance.FRIDGE) == train_key(
            mine, arch, *rows, Appliance.FRIDGE
        )

    class Ctx(SimpleNamespace):
        def read(self, sql, params):
            import pandas as pd

            return pd.DataFrame({"sha256": ["t"]})

    model = {"arch": Arch.TRANSFORMER.value, "sha256": "m"}  # the demo fine-tunes it
    assert _cache_key(Ctx(cfg=base, options=_options()), Appliance.KETTLE, model) != _cache_key(
        Ctx(cfg=own, options=_options()), Appliance.KETTLE, model
    )
    assert _cache_key(Ctx(cfg=base, options=_options()), Appliance.FRIDGE, model) == _cache_key(
        Ctx(cfg=own, options=_options()), Appliance.FRIDGE, model
    )
    for stage in ("data", "evaluate", "profile"):
        assert stage_keys(base, _options())[stage] == stage_keys(own, _options())[stage]
