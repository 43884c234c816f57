"""Snapshot planning: CLI overrides, engine parameters, the day's caches and the contracts.

prepare_caches rebuilds missing caches in memory only; the snapshot job saves them once
every symbol checked out, so bad input writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from collector.ib import IBError, IBSession, OptionContract
from collector.pipeline.discovery import (
    CacheError,
    ContractCache,
    discover_symbol,
    load_cache,
)
from collector.pipeline.engine import EngineParams
from collector.pipeline.errors import CacheMissing, InputError, JobFailed
from collector.pipeline.selection import nearest_strikes
from collector.pipeline.universe import UniverseEntry
from shared.config import AppConfig
from shared.storage import Layout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotOverrides:
    """CLI overrides of [snapshot] (None = use the config)."""

    exchange: str | None = None
    fallback_exchanges: tuple[str, ...] | None = None
    strikes: int | None = None
    ticks: str | None = None
    timeout: float | None = None
    poll_interval: float | None = None
    max_lines: int | None = None
    max_messages_per_sec: float | None = None
    retry_missed: bool = False
    dry_run: bool = False


def overrides_from(obj: SnapshotOverrides | dict[str, Any] | None) -> SnapshotOverrides:
    if obj is None:
        return SnapshotOverrides()
    if isinstance(obj, SnapshotOverrides):
        return obj
    known = SnapshotOverrides.__dataclass_fields__
    unknown = set(obj) - set(known)
    if unknown:
        raise InputError(f"unknown snapshot override(s): {', '.join(sorted(unknown))}")
    return SnapshotOverrides(**{k: v for k, v in obj.items() if v is not None})


def engine_params(cfg: AppConfig, ov: SnapshotOverrides) -> EngineParams:
    s = cfg.snapshot
    return EngineParams(
        generic_ticks=ov.ticks if ov.ticks is not None else s.generic_ticks,
        max_lines=ov.max_lines or s.max_lines,
        max_messages_per_sec=ov.max_messages_per_sec or cfg.ib.max_messages_per_sec,
        timeout_sec=ov.timeout or s.subscription_timeout_sec,
        poll_interval=ov.poll_interval or s.subscription_poll_interval,
        require_greeks=s.require_greeks,
        exchange=ov.exchange or s.exchange,
        fallback_exchanges=ov.fallback_exchanges
        if ov.fallback_exchanges is not None
        else s.fallback_exchanges,
        allow_delayed_fallback=cfg.acquisition.allow_fallback_to_delayed,
        pacing_backoff_sec=tuple(float(x) for x in cfg.acquisition.pacing_backoff_sec),
    )


async def prepare_caches(
    session: IBSession,
    cfg: AppConfig,
    layout: Layout,
    entries: Sequence[UniverseEntry],
    trade_date: date,
    *,
    rebuild: bool = True,
) -> tuple[dict[str, ContractCache], dict[str, str]]:
    """Each symbol's cache: loaded, or rebuilt by discovery (in memory; the caller saves).

    One symbol whose discovery fails (delisted, no options, a secdef timeout) does not stop
    the others: it falls back to its latest earlier cache (`stale (...)`, rows flagged
    discovery_stale, as the runbook says) or, without one, is left out (`failed: ...`).
    Only when every symbol fails is the first error raised (bad input stays exit 2).
    """
    caches: dict[str, ContractCache] = {}
    status: dict[str, str] = {}
    first_error: Exception | None = None
    for entry in entries:
        try:
            caches[entry.symbol] = load_cache(layout, entry.symbol, trade_date)
            status[entry.symbol] = "ok"
            continue
        except CacheError as exc:
            if not rebuild:
                raise CacheMissing(
                    f"{exc} and rebuilding is disabled (--fail-on-missing-cache)"
                ) from None
            reason = exc.reason
        try:
            caches[entry.symbol] = await discover_symbol(session, cfg, entry, trade_date)
            status[entry.symbol] = f"rebuilt ({reason})"
        except (InputError, JobFailed, IBError) as exc:
            first_error = first_error or exc
            stale = latest_earlier_cache(layout, entry.symbol, trade_date)
            if stale is None:
                status[entry.symbol] = f"{FAILED}: {exc}"
                continue
            caches[entry.symbol] = stale
            status[entry.symbol] = f"{STALE} (cache of {stale.stale_from}; discovery: {exc})"
    if first_error is not None and not caches:
        raise first_error
    return caches, status


FAILED = "failed"
STALE = "stale"
MIDDAY = "12:00"  # discovery.midday_refresh_enabled: the first slot from this ET time


def is_midday_slot(slots: Sequence[str], slot: str) -> bool:
    """True for the session's first slot at or after 12:00 ET (early closes included)."""
    later = [s for s in slots if s >= MIDDAY]
    return bool(later) and slot == later[0]


def add_new_contracts(cache: ContractCache, fresh: ContractCache) -> tuple[ContractCache, int]:
    """Pure: the day's cache plus the contracts listed since (by conId); the existing
    contracts stay exactly as they were, so a slot's contract set only ever grows."""
    have = {c.conid for c in cache.contracts}
    new = [c for c in fresh.contracts if c.conid not in have]
    if not new:
        return cache, 0
    merged = tuple(
        sorted((*cache.contracts, *new), key=lambda c: (c.expiry, c.strike, c.right, c.conid))
    )
    return replace(cache, contracts=merged), len(new)


async def midday_refresh(
    session: IBSession,
    cfg: AppConfig,
    entries: Sequence[UniverseEntry],
    caches: dict[str, ContractCache],
    status: dict[str, str],
    trade_date: date,
) -> None:
    """Re-discover each symbol whose cache is today's own and add new listings (in place).

    A failed re-discovery keeps the morning's cache: the refresh only ever adds.
    """
    for entry in entries:
        cache = caches.get(entry.symbol)
        if cache is None or cache.stale_from is not None or status[entry.symbol] != "ok":
            continue
        try:
            fresh = await discover_symbol(session, cfg, entry, trade_date)
        except (InputError, JobFailed, IBError) as exc:
            log.warning("midday refresh of %s failed, keeping the cache: %s", entry.symbol, exc)
            continue
        caches[entry.symbol], added = add_new_contracts(cache, fresh)
        if added:
            status[entry.symbol] = f"refreshed (+{added} new contracts)"


def discovery_problems(status: dict[str, str]) -> dict[str, str]:
    """The symbols whose discovery failed (stale or left out), with the status line."""
    return {s: v for s, v in status.items() if v.startswith((FAILED, STALE))}


def latest_earlier_cache(layout: Layout, symbol: str, trade_date: date) -> ContractCache | None:
    """The newest readable cache of `symbol` before `trade_date`, as the day's stale cache:
    contracts that expired before the trade date dropped, stale_from set to its own date."""
    prefix = f"{symbol}_"
    days = []
    for path in layout.contracts_cache.glob(f"{prefix}*.json"):
        try:
            day = date.fromisoformat(path.stem[len(prefix) :])
        except ValueError:
            continue
        if day < trade_date:
            days.append(day)
    for day in sorted(days, reverse=True):
        try:
            old = load_cache(layout, symbol, day)
        except CacheError:
            continue
        live = tuple(c for c in old.contracts if c.expiry >= trade_date)
        if live:
            return replace(old, trade_date=trade_date, contracts=live, stale_from=day)
    return None


def pick_contracts(
    cache: ContractCache, price: float | None, strikes: int | None
) -> list[OptionContract]:
    """The cache's contracts, or (--strikes N) only N strikes each side of the price per expiry."""
    if not strikes or price is None:
        return list(cache.contracts)
    out: list[OptionContract] = []
    by_expiry: dict[tuple[date, str], list[OptionContract]] = {}
    for c in cache.contracts:
        by_expiry.setdefault((c.expiry, c.trading_class), []).append(c)
    for group in by_expiry.values():
        keep = nearest_strikes([c.strike for c in group], price, strikes)
        out.extend(c for c in group if c.strike in keep)
    return out
