"""Discovery: reqSecDefOptParams + batched qualifyContracts -> the day's contract cache.

The cache `contracts_cache/<SYM>_<trade_date>.json` freezes the day's contracts
(policy session_freeze). Pairs IB does not know (the union trap, error 200) are dropped
and counted once; they are never retried.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from collector.ib import IBSession, OptionContract, UnderlyingRef
from collector.ib.contracts import (
    OptionRequest,
    chain_params,
    qualify_options,
    qualify_underlying,
    reference_price,
)
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
) -> ContractCache:
    """Build one symbol's contract list (raises InputError for unknown / optionless symbols)."""
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
    requests: list[OptionRequest] = []
    for chain in chains:
        expiries = select_expiries(
            (parse_expiry(e) for e in chain.expirations), trade_date, expiry_rules
        )
        strikes = select_strikes(chain.strikes, price, strike_rules)
        for expiry in expiries:
            for strike in strikes:
                for right in ("C", "P"):
                    requests.append(
                        OptionRequest(
                            entry.symbol,
                            expiry.strftime("%Y%m%d"),
                            strike,
                            right,
                            chain.trading_class,
                        )
                    )
    if not requests:
        raise InputError(f"{entry.symbol} has no options matching the discovery rules")
    outcome = await qualify_options(
        session, requests, ref.conid, batch_size=cfg.discovery.qualify_batch_size
    )
    if not outcome.qualified:
        raise InputError(
            f"{entry.symbol} has no options IB could qualify ({outcome.dropped} dropped)"
        )
    unique = {c.conid: c for c in outcome.qualified}
    contracts = tuple(sorted(unique.values(), key=lambda c: (c.expiry, c.strike, c.right, c.conid)))
    log.info(
        "discovered %d contracts for %s (%d pairs dropped)",
        len(contracts),
        entry.symbol,
        outcome.dropped,
    )
    return ContractCache(entry.symbol, trade_date, ref, price, contracts, outcome.dropped)
