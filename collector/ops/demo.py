"""`opt-data demo`: one simulated XNYS session end to end, from a fresh clone, in minutes.

Starts the built-in simulator on a free loopback port (in-process thread), writes a demo
config under --out (data and state there too), then runs the day's plan exactly as
`schedule --simulate` does - precheck/discovery, every slot, close-snapshot, rollup, qa,
enrichment, selfcheck, logscan - moving the simulator's clock to each task's ET time first.
Ends with a summary table and the command that serves the result over MCP.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.ops.checks.selfcheck import compute_metrics
from collector.ops.schedule.plan import PlannedTask, build_plan
from collector.ops.schedule.runner import PlanRunner, TaskOutcome
from collector.ops.schedule.tasks import TaskExecutor
from shared.calendar import ET, Session, get_session, latest_session
from shared.config import AppConfig, load_config
from shared.storage import Layout
from shared.universe import default_entry

MARKER = ".opt-data-demo"
CONFIG_NAME = "opt-data.demo.toml"


@dataclass(frozen=True)
class DemoOptions:
    out: Path
    trade_date: date | None
    symbols: tuple[str, ...]
    seed: int = 7
    data: str | None = None  # another data root (e.g. s3://bucket/demo); default: --out/data


def universe_csv(symbols: tuple[str, ...]) -> str:
    lines = ["symbol,conid,sec_type,exchange,currency"]
    for sym in symbols:
        entry = default_entry(sym)
        lines.append(f"{sym},,{entry.sec_type},{entry.exchange},{entry.currency}")
    return "\n".join(lines) + "\n"


def demo_config_text(out: Path, port: int, data: str | None = None) -> str:
    """A small, fast configuration: few expiries and strikes, short timeouts, test client ids."""
    root = out.resolve()
    return f"""# opt-data demo configuration, written by `opt-data demo` (safe to delete with the folder).
# Serve the collected data over MCP:  opt-data mcp-server --config {root / CONFIG_NAME}

[ib]
host = "127.0.0.1"
port = {port}                  # the in-process simulator of the demo run (gone afterwards)
client_id_pool = "test"
market_data_type = 1
connect_timeout_sec = 10.0
request_timeout_sec = 20.0
max_messages_per_sec = 35.0   # headroom under IB's 50/s on a busy machine

[paths]
data = "{data or root / "data"}"
state = "{root / "state"}"

[universe]
file = "{root / "universe.demo.csv"}"

[acquisition]
slot_grace_seconds = 120

[discovery]
strikes_per_side = 2
max_strikes_per_expiry = 4
near_weeklies = 1
monthlies = 1
quarterlies = 0
max_days_to_expiry = 60

[snapshot]
subscription_timeout_sec = 4.0
subscription_poll_interval = 0.05
max_lines = 100

[enrichment]
timeout_sec = 5.0

[mcp]
allow_raw = true
allow_clean = true
"""


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise ValueError(f"{out} exists and was not made by `opt-data demo`; choose another --out")


def prepare_out(out: Path, symbols: tuple[str, ...], port: int, data: str | None = None) -> Path:
    """Create (or reset) the demo folder; only a folder the demo made itself is ever wiped.
    A data root elsewhere (`data`, e.g. an object store) is not wiped: a rerun replaces
    its files."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SystemExit(
            f"opt-data: error: {out} exists and was not made by `opt-data demo`; choose another --out"
        )
    for sub in ("data", "state"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by opt-data demo\n", encoding="utf-8")
    (out / "universe.demo.csv").write_text(universe_csv(symbols), encoding="utf-8")
    path = out / CONFIG_NAME
    path.write_text(demo_config_text(out, port, data), encoding="utf-8")
    return path


def sim_config(seed: int, start: datetime):  # type: ignore[no-untyped-def]
    from collector.gateway_sim import DwellConfig, SimConfig

    return SimConfig(
        seed=seed,
        dwell=DwellConfig(median=0.12, sigma=0.5, low=0.04, high=0.4),
        snapshot_end_delay=1.0,
        tick_interval=0.25,
        clock_start=start,
    )


def _status_style(status: str) -> str:
    return {"ok": "green", "partial": "yellow"}.get(status, "red")


def summary_table(outcomes: list[TaskOutcome]) -> Table:
    table = Table(title="Simulated session", show_lines=False)
    for col in ("ET time", "task", "slot", "status", "rows", "detail"):
        table.add_column(col, overflow="fold")
    for o in outcomes:
        when = o.item.when.astimezone(ET)
        table.add_row(
            f"{when:%m-%d %H:%M}",
            o.item.task,
            o.item.slot or "",
            f"[{_status_style(o.status)}]{o.status}[/]",
            str(o.rows) if o.rows else "",
            o.message[:70],
        )
    return table


def qa_table(cfg: AppConfig, trade_date: date) -> Table:
    doc = compute_metrics(cfg, trade_date).as_json()
    qa = cfg.qa
    rows = [
        ("slot coverage", doc["slot_coverage"], f">= {qa.slot_coverage_min:.0%}"),
        ("delayed ratio", doc["delayed_ratio"], f"< {qa.delayed_ratio_max:.0%}"),
        ("rollup fallback", doc["rollup_fallback_ratio"], f"<= {qa.rollup_fallback_max:.0%}"),
        ("OI fill rate", doc["oi_fill_rate"], f">= {qa.oi_fill_min:.0%}"),
    ]
    title = (
        f"QA {trade_date}: {doc['intraday_rows']} intraday rows, {doc['daily_clean_rows']} daily_clean rows"
        f" ({doc['expiring_rows_excluded']} expiring that day, left out of rollup/OI)"
    )
    table = Table(title=title)
    for col in ("metric", "value", "threshold"):
        table.add_column(col)
    for name, value, limit in rows:
        table.add_row(name, "n/a" if value is None else f"{value:.2%}", limit)
    return table


async def _run_day(
    cfg: AppConfig, plan: list[PlannedTask], sim, console: Console
) -> list[TaskOutcome]:  # type: ignore[no-untyped-def]
    layout = Layout.from_config(cfg)
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        bar = progress.add_task("starting", total=len(plan))

        def listener(event: str, item: PlannedTask, outcome: TaskOutcome | None) -> None:
            if event == "start":
                progress.update(
                    bar, description=f"{item.label} ({item.when.astimezone(ET):%H:%M} ET)"
                )
            elif outcome is not None:
                progress.advance(bar)
                if outcome.status not in ("ok", "partial"):
                    progress.console.print(
                        f"[red]{item.label}: {outcome.status}[/] {outcome.message}"
                    )

        def move_clock(item: PlannedTask) -> None:
            sim.clock.set(item.when)

        runner = PlanRunner(
            layout,
            TaskExecutor(cfg),
            grace_seconds=cfg.acquisition.slot_grace_seconds,
            listener=listener,
        )
        return await runner.run_now(plan, before_task=move_clock)


def _log_to_file(layout: Layout) -> Path:
    """Library and pipeline logs go to a file: the terminal shows progress and the summary."""
    path = layout.run_logs / "demo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def demo_session(trade_date: date | None) -> Session | None:
    """The session the demo simulates: the one asked for, else the latest that has closed.

    "Latest closed" matters before the open and on half days: at 06:00 ET on a Monday the
    demo runs Friday, on Christmas Eve at 14:00 it runs that day's 13:00 close.
    """
    return get_session(trade_date) if trade_date else latest_session()


def run_demo(opts: DemoOptions) -> int:
    from collector.gateway_sim import SimThread

    console = Console()
    if not console.is_terminal:
        console = Console(
            width=max(console.width, 140)
        )  # CI logs: keep the table on one line a row
    session = demo_session(opts.trade_date)
    if session is None:
        Console(stderr=True).print(
            f"opt-data: error: {opts.trade_date} is not an XNYS session", markup=False
        )
        return 2
    day = session.trade_date
    try:
        check_out(opts.out)
    except ValueError as exc:
        Console(stderr=True).print(f"opt-data: error: {exc}", markup=False)
        return 2
    sim = SimThread(sim_config(opts.seed, session.open))
    port = sim.start()
    try:
        config_path = prepare_out(opts.out, opts.symbols, port, opts.data)
        cfg = load_config(config_path, env={})  # IB_* variables must not redirect the demo
        log_file = _log_to_file(Layout.from_config(cfg))
        plan = build_plan(day, session, cfg, symbols=opts.symbols)
        console.print(
            f"[bold]opt-data demo[/]: session {day} ({session.open:%H:%M}-{session.close:%H:%M} ET"
            f"{', early close' if session.early_close else ''}), symbols {', '.join(opts.symbols)}, "
            f"simulator on 127.0.0.1:{port}, {len(plan)} tasks -> {opts.out}"
        )
        outcomes = asyncio.run(_run_day(cfg, plan, sim, console))
    finally:
        sim.stop()
    console.print(summary_table(outcomes))
    console.print(qa_table(cfg, day))
    verdict = next((o for o in outcomes if o.item.task == "selfcheck"), None)
    passed = verdict is not None and verdict.status == "ok"
    colour = "green" if passed else "red"
    detail = (
        "did not run"
        if verdict is None
        else verdict.message.removeprefix("PASS").removeprefix("FAIL")
    )
    console.print(f"selfcheck: [{colour}]{'PASS' if passed else 'FAIL'}[/]{detail}", markup=True)
    console.print(f"data: {Layout.from_config(cfg).data}   log: {log_file}")
    console.print(f"serve it over MCP:  opt-data mcp-server --config {config_path}")
    return 0 if passed else 1
