"""`pipeline all`: every stage in order, each skipping what is already current, then a summary."""

from __future__ import annotations

import time
from dataclasses import replace

from rich.table import Table

from pipeline.context import RunContext
from store import recommend

# The summary's budgets: those of the device class of the machine it measured on (the same
# presets the dashboard offers), and the same recommendation rule (store/recommend.py).
BUDGETS = {k: v["budgets"] for k, v in recommend.DEVICE_CLASSES.items()}
SUMMARY_RUNTIME, SUMMARY_THREADS = "litert", 1


def run_all(ctx: RunContext, data_opts) -> None:
    from pipeline.convert import run_convert
    from pipeline.data import appliances_with_data, run_data
    from pipeline.evaluate import run_evaluate
    from pipeline.profile import run_profile
    from pipeline.train import run_train

    def data():
        nonlocal ctx
        run_data(ctx, data_opts)
        # the later stages see the appliances the data has (a new context; none is changed)
        ctx = replace(ctx, appliances=appliances_with_data(ctx))

    stages = [
        ("data", data),
        ("train", lambda: run_train(ctx)),
        ("convert", lambda: run_convert(ctx)),
        ("evaluate", lambda: run_evaluate(ctx)),
        ("profile", lambda: run_profile(ctx)),
    ]
    t_all = time.perf_counter()
    timings = []
    previous = previous_stage_times(ctx)
    for i, (name, fn) in enumerate(stages, 1):
        elapsed = time.perf_counter() - t_all
        eta = ""
        if all(n in previous for n, _ in stages[i - 1 :]):
            left = sum(previous[n] for n, _ in stages[i - 1 :])
            eta = f", ~{_mmss(left)} left at the last full run's pace"
        ctx.console.rule(
            f"[bold]stage {i}/{len(stages)}: {name}[/bold] (elapsed {_mmss(elapsed)}{eta})"
        )
        t0 = time.perf_counter()
        fn()
        timings.append((name, time.perf_counter() - t0))
    total = time.perf_counter() - t_all
    ctx.commit(
        "all",
        "*",
        ctx.run_id,
        total,
        lambda con: con.executemany(
            "INSERT INTO stage_timings (run_id, stage, item, seconds, skipped, finished_at) "
            "VALUES (?,?,'*',?,false,now())",
            [[ctx.run_id, n, s] for n, s in timings],
        ),
    )
    ctx.console.print(
        "stage times: " + ", ".join(f"{n} {s:.0f} s" for n, s in timings) + f"; total {total:.0f} s"
    )
    # every stage has published: files no store row references (superseded versions, leftovers
    # of failed or killed runs) can go, unless another run of this store is still at work
    from pipeline import artifacts

    ctx.console.print(artifacts.collect(ctx.store, exclude_run=ctx.run_id).text())
    ctx.console.print(summary_table(ctx))


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def previous_stage_times(ctx: RunContext) -> dict[str, float]:
    """Stage times of the last `pipeline all` of this profile that did all the work: the ETA."""
    if not ctx.store.exists():
        return {}
    df = ctx.read(
        """
        SELECT t.stage, t.seconds FROM stage_timings t
        WHERE t.item = '*' AND t.stage <> 'all' AND t.run_id = (
            SELECT r.run_id FROM runs r JOIN stage_timings s USING (run_id)
            WHERE r.command = 'all' AND r.profile = ? AND s.item = '*'
            GROUP BY r.run_id, r.started_at HAVING min(s.seconds) > 1
            ORDER BY r.started_at DESC LIMIT 1)
        """,
        [ctx.cfg.name.value],
    )
    return dict(zip(df["stage"], df["seconds"], strict=True))


def summary_device(ctx: RunContext) -> tuple[str, str, int, str | None] | None:
    """The device the end-of-run summary speaks for: this machine, LiteRT, one thread."""
    import socket

    df = ctx.read(
        """
        SELECT DISTINCT t.host, h.machine FROM tradeoff t LEFT JOIN hosts h USING (host)
        WHERE t.runtime = ? AND t.threads = ? ORDER BY (h.source = 'local') DESC NULLS LAST, t.host
        """,
        [SUMMARY_RUNTIME, SUMMARY_THREADS],
    )
    if df.empty:
        return None
    here = df[df["host"] == socket.gethostname()]
    row = (here if len(here) else df).iloc[0]
    machine = row["machine"] if isinstance(row["machine"], str) else None
    return row["host"], SUMMARY_RUNTIME, SUMMARY_THREADS, machine


def _text(value) -> str:
    """A cell's text: missing values (None, NaN) are empty."""
    return value if isinstance(value, str) else ""


def summary_table(ctx: RunContext) -> Table:
    """Per appliance, the variant the recommendation rule picks on this machine (the dashboard's
    Overview shows the same rule for any device and budgets)."""
    device = summary_device(ctx)
    if device is None:
        table = Table(title="No variant measured with LiteRT on one thread: nothing to recommend")
        return table
    host, runtime, threads, machine = device
    preset = recommend.preset_for_machine(machine)
    rule = recommend.Rule(cost="latency_ms", budgets=BUDGETS[preset])
    candidates = ctx.read(recommend.CANDIDATES_SQL, [host, runtime, threads])
    baselines = ctx.read(recommend.BASELINES_SQL)
    rec = recommend.recommend(candidates, baselines, rule)
    floats = ctx.read(
        "SELECT appliance, arch, f1, mae FROM metrics_wide WHERE mode = 'keras' AND split = 'test'"
    )
    float_f1 = {(r.appliance, r.arch): (r.f1, r.mae) for r in floats.itertuples()}
    table = Table(
        title=f"Recommended variant per appliance on {host} ({runtime}, {threads} thread; "
        f"{recommend.DEVICE_CLASSES[preset]['label']} budgets)",
        caption=rule.text(),
    )
    for col in (
        "appliance",
        "recommended",
        "F1 [95 % CI]",
        "latency ms",
        "RAM MB",
        "disk MB",
        "float F1",
        "runner-up: why it lost",
    ):
        table.add_column(col)

    f = recommend.fmt
    for r in rec.itertuples():
        ci = (
            f"{f(r.f1, 3)} [{f(r.f1_lo, 3)}, {f(r.f1_hi, 3)}]"
            if r.f1_lo == r.f1_lo and r.f1_lo is not None
            else f"{f(r.f1, 3)} (no interval)"
        )
        fl = float_f1.get((r.appliance, r.arch), (None, None))[0]
        table.add_row(
            r.appliance,
            _text(r.variant_id) or f"none ({_text(r.why)})",
            ci if _text(r.variant_id) else "-",
            f(r.latency_ms),
            f(r.ram_mb),
            f(r.disk_mb),
            f(fl, 3),
            f"{r.runner_up_id}: {r.runner_up_why}"
            if _text(r.runner_up_id)
            else _text(r.runner_up_why),
        )
    return table
