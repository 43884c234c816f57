"""`opt-data schedule`: the lock, the plan, and the three ways of running it.

--simulate              print the plan, run every task now, exit (1 if anything failed)
--live                  APScheduler for one trade date (stays up until stopped)
--live --exit-when-idle same, exits once the date's last task (logscan) is done
--live --continuous     re-plans every weekday at schedule.continuous_init_time (09:20 ET)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from collector.lock import RunLock
from collector.ops.alerts import notify
from collector.ops.schedule.plan import PlannedTask, build_plan, format_plan
from collector.ops.schedule.runner import Executor, Listener, LiveScheduler, PlanRunner, TaskOutcome
from shared.calendar import get_session, now_et, previous_session, slot_datetime, today_et
from shared.config import AppConfig
from shared.storage import Layout
from shared.tasks import Task
from shared.universe import Shard

log = logging.getLogger(__name__)
LOCK_NAME = "scheduler"


@dataclass(frozen=True)
class ScheduleOptions:
    mode: str  # "simulate" | "live"
    trade_date: date | None = None
    symbols: tuple[str, ...] | None = None
    continuous: bool = False
    exit_when_idle: bool = False
    fail_on_missing_cache: bool = False


def plan_for(cfg: AppConfig, opts: ScheduleOptions) -> Callable[[date], list[PlannedTask]]:
    def make(day: date) -> list[PlannedTask]:
        return build_plan(
            day,
            get_session(day),
            cfg,
            symbols=opts.symbols,
            fail_on_missing_cache=opts.fail_on_missing_cache,
        )

    return make


def exit_code(outcomes: list[TaskOutcome]) -> int:
    """1 when anything failed, was missed or skipped, or a symbol failed its precheck."""
    bad = any(
        o.status in ("failed", "missed", "skipped")
        or (o.item.task == Task.PRECHECK and o.status == "partial")
        for o in outcomes
    )
    return 1 if bad else 0


async def run_schedule(
    cfg: AppConfig,
    opts: ScheduleOptions,
    execute: Executor,
    echo: Callable[[str], None],
    listener: Listener | None = None,
) -> int:
    layout = Layout.from_config(cfg)
    shard = Shard.from_config(cfg)
    lock_name = LOCK_NAME + shard.lock_suffix  # one scheduler per shard
    with RunLock(layout.run_locks(), lock_name, command=f"schedule --{opts.mode}") as lock:
        if lock.took_over:
            echo(f"warning: took over a stale scheduler lock ({lock.took_over})")
        runner = PlanRunner(
            layout,
            execute,
            grace_seconds=cfg.acquisition.slot_grace_seconds,
            listener=listener,
            shard=shard.label,
            alert=functools.partial(notify, cfg),
        )
        make_plan = plan_for(cfg, opts)
        if opts.mode == "simulate":
            return await _simulate(runner, make_plan, opts, echo)
        return await _live(cfg, runner, make_plan, opts, echo)


async def _simulate(
    runner: PlanRunner,
    make_plan: Callable[[date], list[PlannedTask]],
    opts: ScheduleOptions,
    echo: Callable[[str], None],
) -> int:
    day = opts.trade_date or today_et()
    plan = make_plan(day)
    if not plan:
        echo(f"{day} is not an XNYS session: nothing scheduled")
        return 0
    echo(f"plan for {day} ({len(plan)} tasks, ET):\n{format_plan(plan)}")
    return exit_code(await runner.run_now(plan))


async def _live(
    cfg: AppConfig,
    runner: PlanRunner,
    make_plan: Callable[[date], list[PlannedTask]],
    opts: ScheduleOptions,
    echo: Callable[[str], None],
) -> int:
    live = LiveScheduler(runner, make_plan)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    live.start()
    try:
        await _catch_up_previous(live, echo)
        today = opts.trade_date or today_et()
        if opts.continuous:

            async def init_today() -> None:
                await _init(live, today_et(), echo)

            live.add_daily_init(cfg.schedule.continuous_init_time, init_today)
            if now_et() >= slot_datetime(today, cfg.schedule.continuous_init_time):
                await _init(live, today, echo)
            at = cfg.schedule.continuous_init_time
            echo(f"continuous: sessions are initialised every weekday at {at} ET")
        else:
            await _init(live, today, echo)
        stopped = await _wait(
            live,
            stop,
            until_idle=opts.exit_when_idle or (not live.pending_jobs() and not opts.continuous),
            echo=echo,
        )
    finally:
        live.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if stopped and opts.continuous:
        return 0  # a resident scheduler stopped on purpose; its days were judged by selfcheck
    return exit_code(runner.outcomes)


async def _init(live: LiveScheduler, day: date, echo: Callable[[str], None]) -> None:
    plan = await live.init_day(day)
    if not plan:
        echo(f"{day} is not an XNYS session: nothing scheduled")
        return
    echo(f"plan for {day} ({len(plan)} tasks, ET):\n{format_plan(plan)}")
    echo(f"scheduled jobs: {len(live.pending_jobs())}")


async def _catch_up_previous(live: LiveScheduler, echo: Callable[[str], None]) -> None:
    """A restart after 04:30 must not lose the previous session's enrichment and checks
    (only when that session was rolled up: there is nothing to enrich otherwise)."""
    prev = previous_session(today_et()).trade_date
    rollup = PlannedTask(slot_datetime(prev, "17:30"), Task.ROLLUP, prev)
    if not live.runner.already_done(rollup):
        return
    plan = await live.init_day(prev, only=(Task.ENRICHMENT, Task.SELFCHECK, Task.LOGSCAN))
    if live.pending_jobs():
        echo(f"catching up {prev}: {', '.join(p.task for p in plan)} not done yet")


async def _wait(
    live: LiveScheduler, stop: asyncio.Event, *, until_idle: bool, echo: Callable[[str], None]
) -> bool:
    """Block until a signal, or (exit-when-idle) until every scheduled job has finished."""
    waits = [asyncio.ensure_future(stop.wait())]
    if until_idle:
        waits.append(asyncio.ensure_future(live.idle.wait()))
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    echo("stopping on signal" if stop.is_set() else "all scheduled tasks done: exiting (idle)")
    return stop.is_set()
