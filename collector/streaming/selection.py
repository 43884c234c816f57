"""Which contracts streaming subscribes: pure selection over an option chain's parameters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Pick:
    expiry: str  # YYYYMMDD
    strike: float
    right: str
    trading_class: str


def near_the_money(
    expirations: Sequence[str],
    strikes: Sequence[float],
    price: float,
    today: date,
    *,
    expiries: int,
    strikes_per_side: int,
    trading_class: str,
) -> list[Pick]:
    """The `expiries` nearest expiries from today on, and `strikes_per_side` strikes below and
    above the price (the nearest strike counts as the first above/below), calls and puts."""
    upcoming = sorted(e for e in expirations if e >= today.strftime("%Y%m%d"))[:expiries]
    ordered = sorted(set(strikes))
    below = [s for s in ordered if s <= price][-strikes_per_side:]
    above = [s for s in ordered if s > price][:strikes_per_side]
    chosen = below + above
    return [Pick(e, s, r, trading_class) for e in upcoming for s in chosen for r in ("C", "P")]
