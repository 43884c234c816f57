"""The contract-cache precheck (the scheduler's first task of a day, and `--fail-on-missing-cache`).

Each scheduled symbol needs a contract cache for the trade date before the first slot; a
missing one is rebuilt by discovery (unless rebuilding is off), and saved only once every
symbol checked out, so bad input writes nothing.
"""

from __future__ import annotations

from datetime import date

from collector.ib import IBError, IBSession
from collector.pipeline.discovery import CacheError, load_cache, save_cache
from collector.pipeline.errors import CacheMissing, JobFailed
from collector.pipeline.run import as_date, connected, session_for
from collector.pipeline.snapshot_plan import prepare_caches
from collector.pipeline.universe import resolve_symbols
from shared.config import AppConfig
from shared.storage import Layout


async def precheck_contract_cache(
    cfg: AppConfig,
    trade_date: date | str,
    symbols: str | list[str] | None,
    *,
    rebuild: bool = True,
    view: str = "intraday",
    session: IBSession | None = None,
) -> dict[str, str]:
    """Check (and unless told not to, rebuild) each symbol's cache for the date.

    A symbol whose discovery fails gets its latest earlier cache (status `stale (...)`) or
    none (`failed: ...`); the others go on. It raises only when no symbol has a cache.
    """
    d = as_date(trade_date)
    session_for(d)
    entries = resolve_symbols(cfg, symbols, view)
    layout = Layout.from_config(cfg)
    missing = []
    for e in entries:
        try:
            load_cache(layout, e.symbol, d)
        except CacheError as exc:
            missing.append(str(exc))
    if not missing:
        return {e.symbol: "ok" for e in entries}
    if not rebuild:
        raise CacheMissing(f"{missing[0]} and rebuilding is disabled (--fail-on-missing-cache)")
    try:
        async with connected(cfg, session) as ib:
            caches, status = await prepare_caches(ib, cfg, layout, entries, d, rebuild=True)
    except IBError as exc:
        raise JobFailed(f"contract cache rebuild failed: {exc}") from None
    for sym, st in status.items():
        if st != "ok" and sym in caches:
            save_cache(layout, caches[sym])
    return status
