"""`pipeline all`: every stage in order, each skipping what is already current, then a summary.

Imports: progress, measure, evaluate, convert, train, data, core, settings, errors, store.
"""

from __future__ import annotations

import time
from dataclasses import replace

from rich.table import Table

from pipeline.core.context import RunContext
from pipeline.progress import Progress
from store import recommend

# The summary's budgets: those of the device class of the machine it measured on (the same
# presets the dashboard offers), and the same recommendation rule (store/recommend.py).
BUDGETS = {k: v["budgets"] for k, v in recommend.DEVICE_CLASSES.items()}
SUMMARY_RUNTIME, SUMMARY_THREADS = "litert", 1


def _stages(ctx: RunContext) -> list[tuple]:
    """(name, entry point) of the stages after data, in order."""
    from pipeline.convert.stage import run_convert
    from pipeline.core.executors import is_remote
    from pipeline.evaluate.stage import run_evaluate
    from pipeline.measure.remote import run_profile_remote
    from pipeline.measure.stage import run_profile
    from pipeline.train.stage import run_train

    # a remote executor measures every model on every node (pipeline/measure/remote.py)
    profile = run_profile_remote if is_remote(ctx) else run_profile
    return [
        ("train", run_train),
        ("convert", run_convert),
        ("evaluate", run_evaluate),
        ("profile", profile),
    ]


def run_all(ctx: RunContext, data_opts) -> None:
    from pipeline.data.stage import appliances_with_data, run_data
    from pipeline.evaluate.stage import forget_predictions

    def data():
        nonlocal ctx
        run_data(ctx, data_opts)
        # the later stages see the appliances the data has (a new context; none is changed)
        ctx = replace(ctx, appliances=appliances_with_data(ctx))

    def on(fn, apps, archs):
        """Run a stage on these appliances (None: every one) with these architectures (None:
        every one asked for), keeping to the appliances the data has."""

        def run():
            here = ctx if archs is None else replace(ctx, archs=archs)
            if apps is None:
                fn(here)
            elif sel := [a for a in apps if a in ctx.appliances]:
                fn(replace(here, appliances=sel))

        return run

    work = dict(_stages(ctx))
    steps = build_plan(ctx.appliances, ctx.archs)
    plan = [("data", "data", None, None, data)]
    plan += [
        (label, name, apps, archs, on(work[name], apps, archs))
        for label, name, apps, archs in steps[1:]
    ]

    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    progress = Progress(ctx.store, [label for label, *_ in plan], ctx.run_id)
    ctx = replace(ctx, on_item=progress.item)
    expected, counts = step_estimates(steps, ctx.appliances, ctx.archs, previous_item_times(ctx))

    try:
        for i, (_, name, apps, archs, fn) in enumerate(plan, 1):
            _announce(ctx, progress, plan, i, time.perf_counter() - t_all, expected, counts)
            t0 = time.perf_counter()
            fn()
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
            if name == "profile" and apps is not None:
                _mark_complete(progress, ctx, apps, archs)
        for appliance in ctx.appliances:  # every stage done: every appliance is complete
            progress.complete(appliance)
        _finish(ctx, list(timings.items()), time.perf_counter() - t_all)
    except BaseException as exc:  # KeyboardInterrupt too: the dashboard says the run stopped
        progress.failed(exc)
        raise
    finally:
        forget_predictions()
    progress.finished()


STAGE_NAMES = ("train", "convert", "evaluate", "profile")


def build_plan(appliances, archs) -> list[tuple]:
    """The order of `pipeline all`: (label, stage, appliances or None, archs or None) per step.

    Earliest answers first: with both architectures, the first appliance's CNN (the quicker
    model: about a minute of training against five for the transformer) end to end, so its
    tradeoff, recommendation and traces are on the dashboard after minutes; then every other
    appliance's CNN, stage by stage, so each has an answer well before the transformers are
    trained; then the first appliance whole, then everything. Each step skips what an earlier
    one made current, and evaluation scores a file's predictions once per run (the appliance's
    later evaluation with both architectures reuses the CNN's). With one architecture: the first
    appliance end to end, then the rest.
    """
    from store.vocab import Arch

    steps: list[tuple] = [("data", "data", None, None)]
    apps = list(appliances)
    first = first_appliance(apps) or (apps[0] if apps else None)
    if first is None:
        return steps + [(name, name, None, None) for name in STAGE_NAMES]
    rest = [a for a in apps if a != first]
    if len(archs) > 1 and Arch.CNN in archs:
        quick = [Arch.CNN]
        steps += [(f"{name} {first} cnn", name, [first], quick) for name in STAGE_NAMES]
        if rest:
            steps += [(f"{name} cnn", name, rest, quick) for name in STAGE_NAMES]
            steps += [(f"{name} {first}", name, [first], None) for name in STAGE_NAMES]
    elif rest:
        steps += [(f"{name} {first}", name, [first], None) for name in STAGE_NAMES]
    return steps + [(name, name, None, None) for name in STAGE_NAMES]


def _mark_complete(progress, ctx, apps, archs) -> None:
    """After a step's profile: an appliance done with every architecture is complete; one done
    with some of them has those models complete."""
    from store import ids

    for a in apps:
        if a not in ctx.appliances:
            continue
        if archs is None or set(archs) >= set(ctx.archs):
            progress.complete(a)
        else:
            for arch in archs:
                progress.model_complete(ids.model_id(a, arch))


def step_items(name: str, apps, archs) -> list[str]:
    """The cache items a step of the plan touches (profile items without their host)."""
    from store import ids

    if name == "data":
        return [str(a) for a in apps]
    if name == "evaluate":
        return [ids.evaluate_item(a, archs) for a in apps]
    return [ids.model_id(a, arch) for a in apps for arch in archs]


def step_estimates(steps, appliances, archs, times: dict) -> tuple[list, list]:
    """(seconds each step should take, items each step touches) at the last full run's pace.

    An item's time is its time in that run; an item an earlier step of this plan makes current
    costs nothing again; an item that run did not have (a new plan, a new appliance) is taken at
    its stage's mean item time. A stage that run did not have: unknown (None)."""
    done: set[tuple[str, str]] = set()
    expected, counts = [], []
    for _label, name, apps, step_archs in steps:
        items = step_items(name, apps if apps is not None else appliances, step_archs or archs)
        counts.append(len(items))
        stage = times.get(name)
        if stage is None:
            expected.append(None)
            done.update((name, i) for i in items)
            continue
        mean = sum(stage.values()) / len(stage) if stage else 0.0
        new = [i for i in items if (name, i) not in done]
        done.update((name, i) for i in new)
        expected.append(sum(stage.get(i, mean) for i in new))
    return expected, counts


def _announce(ctx, progress, plan: list, i: int, elapsed: float, expected: list, counts: list):
    """Step ``i`` (1-based) of the plan starts: the progress file and the console say so, with
    the time left at the last full run's pace where every step ahead has one."""
    from pipeline.core.executors import is_remote

    label, name, *_ = plan[i - 1]
    eta, left = "", None
    ahead = expected[i - 1 :]
    if all(x is not None for x in ahead):
        left = sum(ahead)
        eta = f", ~{_mmss(left)} left at the last full run's pace"
    # a remote executor measures every model on every node: one item per model and node
    n_items = None if name == "profile" and is_remote(ctx) else counts[i - 1] or None
    progress.stage(i, left, n_items, counts=name)
    ctx.console.rule(f"[bold]stage {i}/{len(plan)}: {label}[/bold] (elapsed {_mmss(elapsed)}{eta})")


def first_appliance(appliances) -> str | None:
    """The appliance `pipeline all` takes end to end before the others (the kettle where it is
    asked for: the quickest to learn), or None when there is only one."""
    if len(appliances) < 2:
        return None
    return next((a for a in appliances if str(a) == "kettle"), appliances[0])


def previous_item_times(ctx: RunContext) -> dict[str, dict[str, float]]:
    """Per stage, {item: seconds} of the last full `pipeline all` of this profile (an item
    touched twice in that run, made and later skipped, counts its longer time). Profile items
    are keyed by model, without the host. Empty when there is none."""
    if not ctx.store.exists():
        return {}
    df = ctx.read(
        f"""
        SELECT t.stage, t.item, max(t.seconds) AS seconds FROM stage_timings t
        WHERE t.item <> '*' AND t.stage <> 'all' AND t.run_id = ({LAST_FULL_RUN})
        GROUP BY ALL
        """,
        [ctx.cfg.name.value],
    )
    out: dict[str, dict[str, float]] = {}
    for stage, item, seconds in zip(df["stage"], df["item"], df["seconds"], strict=True):
        key = item.split("@", 1)[0] if stage == "profile" else item
        out.setdefault(stage, {})[key] = max(out.get(stage, {}).get(key, 0.0), float(seconds))
    return out


def _finish(ctx: RunContext, timings: list[tuple[str, float]], total: float) -> None:
    """Record the stage times, collect unreferenced files and print the summary."""
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
    from pipeline.core import artifacts

    ctx.console.print(artifacts.collect(ctx.store, exclude_run=ctx.run_id).text())
    ctx.console.print(summary_table(ctx))
    for line in power_verdict_lines(ctx):
        ctx.console.print(line, soft_wrap=True, markup=False)


def power_verdict_lines(ctx: RunContext) -> list[str]:
    """Float models worse than the always-off / mean-power baselines on MAE or energy per day,
    whatever their F1 (pipeline/evaluate/verdict.py)."""
    from pipeline.evaluate.verdict import VERDICT_SQL, verdict_lines

    if not ctx.store.exists():
        return []
    return verdict_lines(ctx.read(VERDICT_SQL))


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


# the last `pipeline all` of a profile that did (nearly) all the work: it finished, and at most
# a fifth of the items after the data stage were skipped (a resumed run skips what the killed one
# finished; the data stage is cached across runs whatever else runs). An item is skipped when
# every row of it is: the plan makes the CNNs' items in their own pass and skips them again in
# the whole pass, and that is one item made.
LAST_FULL_RUN = """
            SELECT r.run_id FROM runs r JOIN (
                SELECT run_id, stage, item, bool_and(skipped) AS skipped FROM stage_timings
                WHERE item <> '*' AND stage NOT IN ('data', 'all') GROUP BY ALL
            ) s USING (run_id)
            WHERE r.command = 'all' AND r.profile = ? AND r.finished_at IS NOT NULL
            GROUP BY r.run_id, r.started_at
            HAVING count(*) FILTER (WHERE s.skipped) * 5 <= count(*)
            ORDER BY r.started_at DESC LIMIT 1"""


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


def _ci(v, lo, hi, digits: int = 3, unit: str = "") -> str:
    f = recommend.fmt
    if recommend.is_missing(v):
        return "-"
    if recommend.is_missing(lo):
        return f"{f(v, digits)}{unit} (no interval)"
    return f"{f(v, digits)}{unit} [{f(lo, digits)}, {f(hi, digits)}]"


def _answer_cells(r, device_note: str) -> list[str]:
    """One appliance's answer as the summary's cells (after the appliance's name)."""
    f = recommend.fmt
    if not _text(r.get("variant_id")):
        flag = _text(r.get("power_flag"))
        why = _text(r.get("why")).split("; closest:")[0]  # the runner-up column names it
        return [f"none: {why}", "-", "-", f"(runner-up) {flag}" if flag else "-", "-"]
    ship = r["variant_id"]
    if _text(r.get("same_as")):
        ship += f" (one file: {r['same_as']})"
    if _text(r.get("group")) and "," in r["group"]:
        ship += f"; or any of {r['group']}: equal within noise"
    n = r.get("n_windows")
    sample = "" if recommend.is_missing(n) else f"; n={int(n):,} {_text(r.get('level'))}"
    energy = _ci(r.get("epd_error_pct"), r.get("epd_error_pct_lo"), r.get("epd_error_pct_hi"), 3)
    energy = energy.replace(" [", " % [", 1) if "[" in energy else energy
    flag = _text(r.get("power_flag"))
    costs = (
        f"{f(r['latency_ms'])} ms, {f(r['ram_mb'])} MB RAM, {f(r['disk_mb'])} MB disk "
        f"on {r['host']} ({_text(r.get('machine')) or 'machine not recorded'}){device_note}"
    )
    return [
        ship,
        _ci(r["f1"], r["f1_lo"], r["f1_hi"]) + sample,
        _ci(r.get("f1_delta"), r.get("f1_delta_lo"), r.get("f1_delta_hi")),
        energy + (f" - WORSE: {flag}" if flag else ""),
        costs,
    ]


def summary_table(ctx: RunContext) -> Table:
    """Per appliance, one answer under the recommendation rule on this machine (the dashboard's
    Overview shows the same rule for any device and budgets): the recommended group with the
    margin, its F1 and paired loss to float, its energy error (flagged when worse than a
    baseline), its costs with the host they were measured on, and every candidate's n."""
    device = summary_device(ctx)
    if device is None:
        table = Table(title="No variant measured with LiteRT on one thread: nothing to recommend")
        return table
    host, runtime, threads, machine = device
    preset = recommend.preset_for_machine(machine)
    cfg = getattr(ctx, "cfg", None)
    margin = getattr(cfg, "recommend_margin", recommend.DEFAULT_TOLERANCE)
    rule = recommend.Rule(cost="latency_ms", budgets=BUDGETS[preset], tolerance=margin)
    candidates = ctx.read(recommend.CANDIDATES_SQL, [host, runtime, threads])
    baselines = ctx.read(recommend.BASELINES_SQL)
    rec = recommend.recommend(candidates, baselines, rule)
    spec = recommend.DEVICE_CLASSES[preset]
    measured = machine is not None and machine.lower() in spec["machines"]
    note = "" if measured else f"; not measured on a {spec['label'].split(' (')[0]} device"
    table = Table(
        title=f"Recommended per appliance on {host} ({runtime}, {threads} thread; "
        f"{spec['label']} budgets; margin {rule.margin:g} F1)",
        caption=rule.text()
        + "\nEvery candidate's sample (n, level, 'on' windows):\n"
        + "\n".join(_text(c) for c in rec.get("candidates_n", [])),
    )
    for col in (
        "appliance",
        "ship",
        "F1 [95 % CI]; n",
        "F1 vs float [paired CI]",
        "energy/day error %",
        "costs (measured on)",
        "runner-up: why it lost",
    ):
        table.add_column(col)
    for r in rec.to_dict("records"):
        up = r.get("runner_up_id")
        table.add_row(
            r["appliance"],
            *_answer_cells(r, note),
            f"{up}: {r['runner_up_why']}" if _text(up) else _text(r.get("runner_up_why")),
        )
    return table
