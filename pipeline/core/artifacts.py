"""Immutable artifacts: content-addressed names, private temporaries, and garbage collection.

Every file a stage writes into the artifacts folder is first written under a private hidden
name (``.<stem>.<pid>.<random>.tmp<suffix>``) and then renamed to ``<stem>.<sha16><suffix>``,
where ``sha16`` is the first 16 hex digits of the file's sha256. A name therefore always holds
the same bytes: a new version of an artifact is a new file, and it becomes visible only through
the store row that the stage publishes (``RunContext.commit``, one atomic swap of the store
file). Nothing rewrites or removes a file that the published store references.

Files that no published store row references (superseded versions, leftovers of failed or
killed runs) are removed by :func:`collect` (``pipeline gc``, and at the end of ``pipeline
all``). It runs holding the store's writer lock and only when no other run of the store is in
progress, so it cannot remove a file that a running writer has written but not yet published.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pipeline.core.hashing import file_sha256
from store import db

HASH_CHARS = 16  # hex digits of the sha256 in an artifact's name
# the folders of the artifacts directory whose files the store references; gc looks nowhere else
# (raw/ holds generated raw data reused across runs, checkpoints/ the state an interrupted
# training resumes from)
MANAGED_DIRS = ("data", "models", "variants", "traces", "eval")
# (table, path column, sha256 column of that file or None): every artifact a store row names
REFERENCES = (
    ("datasets", "artifact_path", "sha256"),
    ("models", "artifact_path", "sha256"),
    ("variants", "file_path", "sha256"),
    ("eval_windows", "sample_path", None),
    ("traces", "path", None),
)
# files that belong to a referenced file and live beside it: the .json sidecar of a .keras model
COMPANIONS = {".keras": (".json",)}
# a 'running' run of another host cannot be checked for life; older than this it is presumed dead
OTHER_HOST_RUN_HOURS = 24


# -- writing ------------------------------------------------------------------------------------
def temp_path(directory: Path, stem: str, suffix: str) -> Path:
    """A private name in ``directory`` for a file being written: hidden, unique to this call."""
    return Path(directory) / f".{stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}"


def content_name(stem: str, sha256: str, suffix: str) -> str:
    return f"{stem}.{sha256[:HASH_CHARS]}{suffix}"


def publish_file(tmp: Path, directory: Path, stem: str, suffix: str) -> tuple[Path, str]:
    """Give a finished private file its content-addressed name in ``directory``.

    Returns (final path, sha256). The rename is atomic, so the name never shows a partial file;
    a file already there under that name holds the same bytes and is left as it is (the
    temporary is dropped). The caller then publishes a store row naming the returned path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # claim the file under a name private to this call first: whatever wrote it (a checkpoint
    # callback, another process) can no longer change the bytes hashed and published here
    private = temp_path(directory, stem, suffix)
    os.replace(tmp, private)
    try:
        with open(private, "rb") as fh:
            os.fsync(fh.fileno())
        sha = file_sha256(private)
        final = directory / content_name(stem, sha, suffix)
        try:
            same = final.is_file() and file_sha256(final) == sha
        except OSError:
            same = False
        if not same:  # absent (or damaged: the name promises these bytes)
            os.replace(private, final)
        return final, sha
    finally:
        private.unlink(missing_ok=True)


def write_artifact(
    directory: Path, stem: str, suffix: str, write: Callable[[Path], None]
) -> tuple[Path, str]:
    """``write(tmp)`` a new artifact under a private name, then name it by its content.

    Returns (final path, sha256). If ``write`` fails, nothing is left behind.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(directory, stem, suffix)
    try:
        write(tmp)
        return publish_file(tmp, directory, stem, suffix)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(directory: Path, stem: str, suffix: str, blob: bytes) -> tuple[Path, str]:
    return write_artifact(directory, stem, suffix, lambda p: p.write_bytes(blob))


# -- reading ------------------------------------------------------------------------------------
def recorded_files_ok(store: Path, sql: str, params: list, expect_rows: int | None = None) -> bool:
    """True when the query's rows (columns artifact_path, relative to the artifacts folder, and
    sha256) all name files that exist with that sha256 (and there are ``expect_rows`` of them,
    when given)."""
    if not Path(store).exists():
        return False
    rows = db.query_df(store, sql, params)
    if rows.empty or (expect_rows is not None and len(rows) != expect_rows):
        return False
    art = db.artifacts_dir(store)
    for rel, sha in zip(rows["artifact_path"], rows["sha256"], strict=True):
        if not isinstance(rel, str):
            return False
        path = art / rel
        try:
            if not path.is_file() or (isinstance(sha, str) and file_sha256(path) != sha):
                return False
        except OSError:
            return False
    return True


def referenced(con) -> dict[str, str | None]:
    """Every artifact path the store's rows name -> its recorded sha256 (None where no column)."""
    out: dict[str, str | None] = {}
    for table, col, sha_col in REFERENCES:
        sha_expr = sha_col or "NULL"
        for row in db.fetch_records(
            con, f"SELECT {col} AS path, {sha_expr} AS sha256 FROM {table} WHERE {col} IS NOT NULL"
        ):
            key = os.path.normpath(row["path"])
            if out.get(key) is None:
                out[key] = row["sha256"]
    return out


def verify(store: Path) -> list[str]:
    """Problems with the files the published store references: missing, or bytes that differ
    from the recorded sha256 or from the hash in the file's own name. Empty when consistent."""
    con = db.connect_readonly(store)
    try:
        refs = referenced(con)
    finally:
        con.close()
    art = db.artifacts_dir(store)
    problems = []
    for rel, sha in sorted(refs.items()):
        path = art / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        actual = file_sha256(path)
        if sha is not None and actual != sha:
            problems.append(f"{rel}: sha256 {actual[:12]}… differs from the store's {sha[:12]}…")
        named = _named_hash(path)
        if named is not None and not actual.startswith(named):
            problems.append(f"{rel}: content does not match the hash in its name")
    return problems


def _named_hash(path: Path) -> str | None:
    """The sha256 prefix in a content-addressed name (``<stem>.<sha16><suffix>``), else None."""
    parts = path.name.split(".")
    if len(parts) >= 3:
        cand = parts[-2]
        if len(cand) == HASH_CHARS and all(c in "0123456789abcdef" for c in cand):
            return cand
    return None


# -- garbage collection -------------------------------------------------------------------------
@dataclass
class GcReport:
    removed: list[Path] = field(default_factory=list)
    removed_bytes: int = 0
    kept: int = 0
    missing: list[str] = field(default_factory=list)  # referenced but absent
    blocked_by: list[str] = field(default_factory=list)  # runs in progress: nothing removed
    dry_run: bool = False

    def text(self) -> str:
        if self.blocked_by:
            return (
                f"gc: nothing removed: run {', '.join(self.blocked_by)} is in progress on this "
                "store (it may have written files it has not published yet); run gc when it ends"
            )
        verb = "would remove" if self.dry_run else "removed"
        out = (
            f"gc: {verb} {len(self.removed)} unreferenced file(s) "
            f"({self.removed_bytes / 1e6:.1f} MB); {self.kept} referenced file(s) kept"
        )
        if self.missing:
            out += f"; {len(self.missing)} referenced file(s) missing: " + ", ".join(
                self.missing[:5]
            )
        return out


def live_runs(con, exclude: str | None = None) -> list[str]:
    """Runs recorded as 'running' whose process may still be at work (this host: its pid is
    alive; another host: started less than OTHER_HOST_RUN_HOURS ago)."""
    from pipeline.core.context import _alive, utcnow

    here = socket.gethostname()
    cutoff = utcnow() - timedelta(hours=OTHER_HOST_RUN_HOURS)
    out = []
    for run in db.fetch_records(
        con, "SELECT run_id, host, pid, started_at FROM runs WHERE status = 'running'"
    ):
        run_id, started = run["run_id"], run["started_at"]
        if run_id == exclude:
            continue
        if run["host"] == here:
            if run["pid"] is not None and _alive(run["pid"], started):
                out.append(run_id)
        elif started is None or started > cutoff:
            out.append(run_id)
    return out


def collect(store: Path, dry_run: bool = False, exclude_run: str | None = None) -> GcReport:
    """Remove the files of the managed folders that no row of the published store references.

    Holds the store's writer lock throughout (no store is published meanwhile, and a new run
    cannot start: starting one publishes its 'running' row) and removes nothing while another
    run of the store is in progress (``exclude_run``: the calling run, whose work is done).
    A dry run only reads: it takes no lock, so it works on a store in a read-only folder.
    """
    store = Path(store)
    if dry_run:
        return _sweep(store, GcReport(dry_run=True), exclude_run)
    with db.writer_lock(store):
        return _sweep(store, GcReport(), exclude_run)


def _sweep(store: Path, report: GcReport, exclude_run: str | None) -> GcReport:
    """``collect``'s work: list (and unless a dry run, remove) the unreferenced files."""
    art = db.artifacts_dir(store)
    con = db.connect_readonly(store)
    try:
        refs = referenced(con)
        report.blocked_by = live_runs(con, exclude_run)
    finally:
        con.close()
    if report.blocked_by:
        return report
    keep = set(refs)
    for rel in refs:
        for companion in COMPANIONS.get(Path(rel).suffix, ()):
            keep.add(os.path.normpath(str(Path(rel).with_suffix(companion))))
    report.missing = sorted(rel for rel in refs if not (art / rel).is_file())
    for sub in MANAGED_DIRS:
        folder = art / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if not path.is_file() and not path.is_symlink():
                continue
            rel = os.path.normpath(str(path.relative_to(art)))
            if rel in keep:
                report.kept += 1
                continue
            try:
                size = path.lstat().st_size
                if not report.dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue
            report.removed.append(path)
            report.removed_bytes += size
    return report
