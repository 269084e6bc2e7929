"""`pipeline all`: every stage in order, each skipping what is already current, then a summary."""

from __future__ import annotations

import time

from rich.table import Table

from pipeline.context import RunContext

# Default budgets for "best variant" in the summary: a small edge CPU
BUDGETS = {"latency_ms": 50.0, "ram_mb": 100.0, "disk_mb": 50.0}


def run_all(ctx: RunContext, data_opts) -> None:
    from pipeline.convert import run_convert
    from pipeline.data import run_data
    from pipeline.evaluate import run_evaluate
    from pipeline.profile import run_profile
    from pipeline.train import run_train

    stages = [
        ("data", lambda: run_data(ctx, data_opts)),
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
            "INSERT INTO stage_timings VALUES (?,?,'*',?,false,now())",
            [[ctx.run_id, n, s] for n, s in timings],
        ),
    )
    ctx.console.print(
        "stage times: " + ", ".join(f"{n} {s:.0f} s" for n, s in timings) + f"; total {total:.0f} s"
    )
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


def summary_table(ctx: RunContext) -> Table:
    df = ctx.read(
        """
        WITH t AS (SELECT * FROM tradeoff WHERE threads = 1 AND runtime = 'litert'),
        ok AS (SELECT * FROM t WHERE latency_ms <= ? AND ram_mb <= ? AND disk_mb <= ?),
        best AS (SELECT * FROM ok QUALIFY row_number() OVER (PARTITION BY appliance ORDER BY f1 DESC NULLS LAST, latency_ms) = 1)
        SELECT b.appliance, b.variant_id, b.f1, b.latency_ms, b.ram_mb, b.disk_mb,
               k.f1 AS keras_f1, k.mae AS keras_mae, b.mae
        FROM best b LEFT JOIN metrics_wide k
          ON k.appliance = b.appliance AND k.arch = b.arch AND k.mode = 'keras' AND k.split = 'test'
        ORDER BY b.appliance
        """,
        [BUDGETS["latency_ms"], BUDGETS["ram_mb"], BUDGETS["disk_mb"]],
    )
    table = Table(
        title=f"Best variant per appliance by F1 (latency <= {BUDGETS['latency_ms']:g} ms, "
        f"RAM <= {BUDGETS['ram_mb']:g} MB, disk <= {BUDGETS['disk_mb']:g} MB, 1 thread)"
    )
    for col in (
        "appliance",
        "variant",
        "F1",
        "MAE W",
        "latency ms",
        "RAM MB",
        "disk MB",
        "float F1",
        "float MAE W",
    ):
        table.add_column(col)

    def f(v, nd=3):
        return "-" if v is None or v != v else f"{v:.{nd}f}"

    for r in df.itertuples():
        table.add_row(
            r.appliance,
            r.variant_id,
            f(r.f1),
            f(r.mae, 1),
            f(r.latency_ms),
            f(r.ram_mb, 1),
            f(r.disk_mb, 2),
            f(r.keras_f1),
            f(r.keras_mae, 1),
        )
    return table
