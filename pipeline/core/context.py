"""What every stage shares: the store, the artifacts folder, the profile, the run and its cache."""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from pipeline.core.hashing import stable_hash
from pipeline.settings.presets import ProfileConfig
from store import db
from store.progress_file import process_alive
from store.vocab import Appliance, Arch

PACKAGES = ("tensorflow-cpu", "keras", "ai-edge-litert", "numpy", "duckdb", "pandas", "dash")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return res.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class RunOptions:
    """The command line's per-run choices that change what a stage does, typed and read-only
    (no stage changes them), plus what is only recorded with the run (``recorded``: the data
    source, an ingested file), never read by a stage."""

    int8_io: bool = False  # convert: int8 input/output tensors where the mode allows
    article_postprocess: bool = False  # evaluate: the article's threshold post-processing
    article_loss: bool = False  # train: the article's loss (MSE + BCE on status)
    strategy: str = "default"  # train: the tf.distribute strategy
    appliances_explicit: bool = False  # the appliances were named (data: none may be missing)
    recorded: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, **given) -> RunOptions:
        """Typed fields by name; every other keyword is recorded only."""
        names = {f.name for f in fields(cls)} - {"recorded"}
        typed = {k: v for k, v in given.items() if k in names}
        rest = tuple(sorted((k, v) for k, v in given.items() if k not in names))
        return cls(**typed, recorded=rest)

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "recorded"}
        return {**out, **dict(self.recorded)}


@dataclass
class RunContext:
    store: Path
    cfg: ProfileConfig
    appliances: list[Appliance]
    archs: list[Arch]
    force: bool = False
    command: str = "all"
    options: RunOptions = field(default_factory=RunOptions)
    console: Console = field(default_factory=lambda: Console(stderr=True))
    run_id: str = field(
        default_factory=lambda: utcnow().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    )
    # told (stage, item) as each item is published or skipped (`pipeline all`'s progress file)
    on_item: Callable[[str, str], None] | None = field(default=None, repr=False, compare=False)
    # where the stages' items run (pipeline/core/executors.py); None: this machine's workers
    executor: Any = field(default=None, repr=False, compare=False)

    @property
    def artifacts(self) -> Path:
        return db.artifacts_dir(self.store)

    def path(self, *parts: str) -> Path:
        p = self.artifacts.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def rel(self, p: Path) -> str:
        return str(Path(p).resolve().relative_to(self.artifacts.resolve()))

    def config_json(self) -> dict:
        return {
            "profile": self.cfg.to_json(),
            "appliances": [a.value for a in self.appliances],
            "archs": [a.value for a in self.archs],
            "options": self.options.to_json(),
        }

    # -- runs -----------------------------------------------------------------------------
    def start_run(self) -> None:
        with db.write_store(self.store) as con:
            self._insert_run(con, "running", utcnow())

    def record_finished_run(self, con: duckdb.DuckDBPyConnection, started_at: datetime) -> None:
        """A short command's whole run, written in the same publish as its rows (so readers see
        one new version, and a command that fails publishes neither)."""
        self._insert_run(con, "finished", started_at, finished_at=utcnow())

    def _insert_run(
        self,
        con: duckdb.DuckDBPyConnection,
        status: str,
        started_at: datetime,
        finished_at: datetime | None = None,
    ) -> None:
        cfg = self.config_json()
        mark_crashed_runs(con, socket.gethostname())
        db.insert_records(
            con,
            "runs",
            [
                {
                    "run_id": self.run_id,
                    "command": self.command,
                    "profile": self.cfg.name.value,
                    "config": json.dumps(cfg),
                    "config_hash": stable_hash(cfg),
                    "git_commit": git_commit(),
                    "packages": json.dumps(package_versions()),
                    "host": socket.gethostname(),
                    "started_at": started_at,
                    "status": status,
                    "pid": os.getpid(),
                    **({"finished_at": finished_at} if finished_at is not None else {}),
                }
            ],
        )
        con.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_run_id', ?)", [self.run_id]
        )

    def finish_run(self, status: str) -> None:
        with db.write_store(self.store) as con:
            con.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                [utcnow(), status, self.run_id],
            )

    # -- cache ----------------------------------------------------------------------------
    def cached_key(self, stage: str, item: str) -> str | None:
        if not self.store.exists():
            return None
        con = db.connect_readonly(self.store)
        try:
            rows = db.fetch_records(
                con, "SELECT cache_key FROM stage_cache WHERE stage = ? AND item = ?", [stage, item]
            )
        finally:
            con.close()
        return rows[0]["cache_key"] if rows else None

    def is_fresh(self, stage: str, item: str, key: str) -> bool:
        return not self.force and self.cached_key(stage, item) == key

    def skip_if_current(
        self, stage: str, item: str, key: str, outputs_exist: bool = True, label: str | None = None
    ) -> bool:
        """True (after saying so and recording the skip) when the item's cached key matches."""
        if not (outputs_exist and self.is_fresh(stage, item, key)):
            return False
        self.console.print(f"{stage}: {label or item} unchanged, skipped")
        self.record_skips(stage, [item])
        return True

    def commit(
        self,
        stage: str,
        item: str,
        key: str,
        seconds: float,
        write: Callable[[duckdb.DuckDBPyConnection], None],
    ) -> None:
        """Publish one finished item: its rows, its cache key and its timing, atomically."""
        with db.write_store(self.store) as con:
            write(con)
            con.execute(
                "INSERT OR REPLACE INTO stage_cache (stage, item, cache_key, run_id, finished_at) "
                "VALUES (?,?,?,?,?)",
                [stage, item, key, self.run_id, utcnow()],
            )
            con.execute(
                "INSERT INTO stage_timings (run_id, stage, item, seconds, skipped, finished_at) "
                "VALUES (?,?,?,?,false,?)",
                [self.run_id, stage, item, seconds, utcnow()],
            )
        if self.on_item is not None:
            self.on_item(stage, item)

    def record_skips(self, stage: str, items: list[str]) -> None:
        if not items:
            return
        with db.write_store(self.store) as con:
            con.executemany(
                "INSERT INTO stage_timings (run_id, stage, item, seconds, skipped, finished_at) "
                "VALUES (?,?,?,0,true,?)",
                [[self.run_id, stage, i, utcnow()] for i in items],
            )
        if self.on_item is not None:
            for i in items:
                self.on_item(stage, i)

    def read(self, sql: str, params: list | None = None):
        return db.query_df(self.store, sql, params)


def mark_crashed_runs(con: duckdb.DuckDBPyConnection, host: str) -> int:
    """Runs of this host still 'running' whose process is gone were killed: say so."""
    rows = db.fetch_records(
        con,
        "SELECT run_id, pid, started_at FROM runs WHERE status = 'running' AND host = ?",
        [host],
    )
    dead = [r["run_id"] for r in rows if r["pid"] is None or not _alive(r["pid"], r["started_at"])]
    if dead:
        con.execute("UPDATE runs SET status = 'crashed' WHERE run_id IN (SELECT unnest(?))", [dead])
    return len(dead)


def _alive(pid: int, started_at: datetime | None = None) -> bool:
    """The run's process still exists (a pid reused by a newer process does not count)."""
    born = None if started_at is None else started_at.replace(tzinfo=UTC).timestamp()
    return process_alive(pid, born)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


def host_facts() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "host": socket.gethostname(),
        "cpu_model": cpu,
        "cores": os.cpu_count() or 1,
        "machine": platform.machine(),
    }
