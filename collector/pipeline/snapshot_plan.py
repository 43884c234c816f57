"""Snapshot planning: CLI overrides, engine parameters, the day's caches and the contracts.

prepare_caches rebuilds missing caches in memory only; the snapshot job saves them once
every symbol checked out, so bad input writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from collector.ib import IBSession, OptionContract
from collector.pipeline.discovery import (
    CacheError,
    ContractCache,
    discover_symbol,
    load_cache,
)
from collector.pipeline.engine import EngineParams
from collector.pipeline.errors import CacheMissing, InputError
from collector.pipeline.selection import nearest_strikes
from collector.pipeline.universe import UniverseEntry
from shared.config import AppConfig
from shared.storage import Layout


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
    """Each symbol's cache: loaded, or rebuilt by discovery (in memory; the caller saves)."""
    caches: dict[str, ContractCache] = {}
    status: dict[str, str] = {}
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
        caches[entry.symbol] = await discover_symbol(session, cfg, entry, trade_date)
        status[entry.symbol] = f"rebuilt ({reason})"
    return caches, status


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
