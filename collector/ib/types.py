"""Our own frozen records for what IB returns: nothing camelCase leaves collector/ib."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class UnderlyingRef:
    """A qualified underlying (stock or index)."""

    symbol: str
    conid: int
    sec_type: str  # "STK" | "IND"
    exchange: str
    currency: str = "USD"


@dataclass(frozen=True)
class ChainParams:
    """One reqSecDefOptParams row: the union of expiries and strikes of a trading class."""

    exchange: str
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]  # YYYYMMDD
    strikes: tuple[float, ...]


@dataclass(frozen=True)
class OptionContract:
    """A qualified option (conid != 0)."""

    conid: int
    symbol: str
    expiry: date
    strike: float
    right: str  # "C" | "P"
    multiplier: int | None
    exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    underlying_conid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "conid": self.conid,
            "symbol": self.symbol,
            "expiry": self.expiry.isoformat(),
            "strike": self.strike,
            "right": self.right,
            "multiplier": self.multiplier,
            "exchange": self.exchange,
            "currency": self.currency,
            "local_symbol": self.local_symbol,
            "trading_class": self.trading_class,
            "underlying_conid": self.underlying_conid,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OptionContract:
        return cls(
            conid=int(obj["conid"]),
            symbol=str(obj["symbol"]),
            expiry=date.fromisoformat(obj["expiry"]),
            strike=float(obj["strike"]),
            right=str(obj["right"]),
            multiplier=None if obj.get("multiplier") is None else int(obj["multiplier"]),
            exchange=str(obj.get("exchange") or "SMART"),
            currency=str(obj.get("currency") or "USD"),
            local_symbol=str(obj.get("local_symbol") or ""),
            trading_class=str(obj.get("trading_class") or ""),
            underlying_conid=None
            if obj.get("underlying_conid") is None
            else int(obj["underlying_conid"]),
        )


@dataclass(frozen=True)
class Greeks:
    """One option computation as the library delivered it (sentinels NOT cleaned here)."""

    iv: float | None
    delta: float | None
    gamma: float | None
    vega: float | None
    theta: float | None
    model_price: float | None
    pv_dividend: float | None
    und_price: float | None


@dataclass(frozen=True)
class QuoteSnapshot:
    """The state of one market-data line when it was released (raw values: NaN, -1, -2 kept)."""

    conid: int
    received_at: datetime
    market_data_type: int
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float
    close: float
    call_open_interest: float
    put_open_interest: float
    model: Greeks | None
    errors: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class Bar:
    """One historical bar; `start` is tz-aware for intraday bars, a date for daily ones."""

    start: datetime | date
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    bar_count: int
