"""Discovery: reqSecDefOptParams, then one reqContractDetails per (expiry, right) -> cache.

reqSecDefOptParams gives the expiries and the *union* of strikes; asking for each
selected expiry and right with the strike left open lists the contracts that exist, so
the strikes are chosen among real ones and no request meets error 200 (the union trap).
Batched qualification of the union pairs is the fallback when a listing fails or comes
back empty; pairs IB does not know are then dropped and counted once, never retried.
Every request waits for the connection's message budget (the engine's evenly spaced
budget), so discovery never sends in bursts and never draws error 100.

The cache `contracts_cache/<SYM>_<trade_date>.json` freezes the day's contracts
(policy session_freeze).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from collector.ib import IBError, IBSession, OptionContract, UnderlyingRef
from collector.ib.contracts import (
    OptionRequest,
    QualifyOutcome,
    chain_params,
    list_expiry_options,
    qualify_options,
    qualify_underlying,
    reference_price,
)
from collector.pipeline.budget import MessageBudget
from collector.pipeline.errors import InputError, JobFailed
from collector.pipeline.selection import (
    ExpiryRules,
    StrikeRules,
    parse_expiry,
    select_expiries,
    select_strikes,
)
from collector.pipeline.universe import UniverseEntry
from shared.config import AppConfig
from shared.storage import Layout, atomic_write_json

log = logging.getLogger(__name__)
CACHE_VERSION = 1
PACED_GROUP = 5  # qualify requests let out together by the budget in the fallback


class CacheError(Exception):
    """The cache file is missing, empty or corrupt (`reason` says which)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ContractCache:
    symbol: str
    trade_date: date
    underlying: UnderlyingRef
    reference_price: float | None
    contracts: tuple[OptionContract, ...]
    dropped_unqualified: int = 0
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    stale_from: date | None = None  # set when an older day's cache was reused (discovery_stale)

    def to_json(self) -> dict[str, Any]:
        u = self.underlying
        return {
            "version": CACHE_VERSION,
            "symbol": self.symbol,
            "trade_date": self.trade_date.isoformat(),
            "underlying": {
                "symbol": u.symbol,
                "conid": u.conid,
                "sec_type": u.sec_type,
                "exchange": u.exchange,
                "currency": u.currency,
            },
            "reference_price": self.reference_price,
            "dropped_unqualified": self.dropped_unqualified,
            "created_at": self.created_at,
            "stale_from": self.stale_from.isoformat() if self.stale_from else None,
            "contracts": [c.to_json() for c in self.contracts],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ContractCache:
        u = obj["underlying"]
        return cls(
            symbol=str(obj["symbol"]),
            trade_date=date.fromisoformat(obj["trade_date"]),
            underlying=UnderlyingRef(
                str(u["symbol"]),
                int(u["conid"]),
                str(u["sec_type"]),
                str(u["exchange"]),
                str(u.get("currency") or "USD"),
            ),
            reference_price=None
            if obj.get("reference_price") is None
            else float(obj["reference_price"]),
            contracts=tuple(OptionContract.from_json(c) for c in obj["contracts"]),
            dropped_unqualified=int(obj.get("dropped_unqualified", 0)),
            created_at=str(obj.get("created_at", "")),
            stale_from=date.fromisoformat(obj["stale_from"]) if obj.get("stale_from") else None,
        )


def load_cache(layout: Layout, symbol: str, trade_date: date) -> ContractCache:
    path = layout.contract_cache_file(symbol, trade_date)
    if not path.is_file():
        raise CacheError(f"contract cache {path.name} is missing", "missing")
    try:
        cache = ContractCache.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheError(
            f"contract cache {path.name} is corrupt ({type(exc).__name__})", "corrupt"
        ) from None
    if not cache.contracts:
        raise CacheError(f"contract cache {path.name} is empty", "empty")
    return cache


def save_cache(layout: Layout, cache: ContractCache) -> None:
    atomic_write_json(layout.contract_cache_file(cache.symbol, cache.trade_date), cache.to_json())


async def resolve_underlying(session: IBSession, entry: UniverseEntry) -> UnderlyingRef:
    """The universe conid when it has one; else Stock@SMART / Index@CBOE qualification."""
    if entry.conid:
        return UnderlyingRef(
            entry.symbol, entry.conid, entry.sec_type, entry.exchange, entry.currency
        )
    ref = await qualify_underlying(session, entry.symbol, entry.sec_type)
    if ref is None:
        raise InputError(f"unknown symbol {entry.symbol}: IB has no stock or index of that name")
    return ref


def _rules(cfg: AppConfig, strikes_per_side: int | None) -> tuple[ExpiryRules, StrikeRules]:
    d = cfg.discovery
    per_side = strikes_per_side or d.strikes_per_side
    return (
        ExpiryRules(d.near_weeklies, d.monthlies, d.quarterlies, d.max_days_to_expiry),
        StrikeRules(
            per_side,
            max(d.max_strikes_per_expiry, 2 * per_side)
            if strikes_per_side
            else d.max_strikes_per_expiry,
            d.moneyness,
            d.wing_moneyness,
        ),
    )


async def discover_symbol(
    session: IBSession,
    cfg: AppConfig,
    entry: UniverseEntry,
    trade_date: date,
    *,
    strikes_per_side: int | None = None,
    listing: bool = True,
) -> ContractCache:
    """Build one symbol's contract list (raises InputError for unknown / optionless symbols).

    `listing=False` skips the per-(expiry, right) listing and qualifies the union pairs,
    as discovery did before (kept for the discovery benchmark's comparison).
    """
    ref = await resolve_underlying(session, entry)
    price = await reference_price(
        session, ref, allow_delayed=cfg.acquisition.allow_fallback_to_delayed
    )
    if price is None:
        hint = (
            ""
            if cfg.acquisition.allow_fallback_to_delayed
            else (" (no market data permission? acquisition.allow_fallback_to_delayed is off)")
        )
        raise JobFailed(
            f"no reference price for {entry.symbol}: IB sent no last, quote or close{hint}"
        )
    chains = [c for c in await chain_params(session, ref) if c.exchange == "SMART"]
    if not chains or not any(c.expirations for c in chains):
        raise InputError(f"{entry.symbol} has no listed options")
    expiry_rules, strike_rules = _rules(cfg, strikes_per_side)
    budget = MessageBudget(session.max_messages_per_sec)
    budget.seed(session.recent_send_times())
    found: list[OptionContract] = []
    fallback: list[OptionRequest] = []
    for chain in chains:
        expiries = select_expiries(
            (parse_expiry(e) for e in chain.expirations), trade_date, expiry_rules
        )
        union = select_strikes(chain.strikes, price, strike_rules)
        for expiry in expiries:
            text = expiry.strftime("%Y%m%d")
            for right in ("C", "P"):
                listed: list[OptionContract] = []
                if listing:
                    await _pace(budget, 1)
                    try:
                        listed = await list_expiry_options(
                            session, ref, text, chain.trading_class, right=right
                        )
                    except IBError as exc:
                        log.warning("listing %s %s %s failed (%s): qualifying", entry.symbol,
                                    text, right, exc)  # fmt: skip
                if listed:
                    keep = set(select_strikes([c.strike for c in listed], price, strike_rules))
                    found += [c for c in listed if c.strike in keep and c.right == right]
                else:
                    fallback += [OptionRequest(entry.symbol, text, k, right, chain.trading_class)
                                 for k in union]  # fmt: skip
    dropped = 0
    if fallback and not listing:  # as before: the library's throttle lets batches out
        outcome = await qualify_options(
            session, fallback, ref.conid, batch_size=cfg.discovery.qualify_batch_size
        )
    elif fallback:
        outcome = await _paced_qualify(
            session, budget, fallback, ref.conid, cfg.discovery.qualify_batch_size
        )
    if fallback:
        found += outcome.qualified
        dropped = outcome.dropped
    if not found and not fallback:
        raise InputError(f"{entry.symbol} has no options matching the discovery rules")
    if not found:
        raise InputError(f"{entry.symbol} has no options IB could qualify ({dropped} dropped)")
    unique = {c.conid: c for c in found}
    contracts = tuple(sorted(unique.values(), key=lambda c: (c.expiry, c.strike, c.right, c.conid)))
    log.info("discovered %d contracts for %s (%d pairs dropped)", len(contracts), entry.symbol,
             dropped)  # fmt: skip
    return ContractCache(entry.symbol, trade_date, ref, price, contracts, dropped)


async def _pace(budget: MessageBudget, n: int) -> None:
    """Wait until `n` messages fit the budget, then count them as sent."""
    loop = asyncio.get_running_loop()
    while not budget.can_send(loop.time(), n):
        await asyncio.sleep(budget.wait_time(loop.time(), n))
    budget.take(loop.time(), n)


async def _paced_qualify(
    session: IBSession,
    budget: MessageBudget,
    requests: list[OptionRequest],
    underlying_conid: int,
    batch_size: int,
) -> QualifyOutcome:
    """Batched qualification, each small group let out by the budget (no library bursts)."""
    group = max(1, min(batch_size, PACED_GROUP))
    qualified: list[OptionContract] = []
    dropped = 0
    for start in range(0, len(requests), group):
        chunk = requests[start : start + group]
        await _pace(budget, len(chunk))
        out = await qualify_options(session, chunk, underlying_conid, batch_size=len(chunk))
        qualified += out.qualified
        dropped += out.dropped
    return QualifyOutcome(qualified, dropped)
