"""Contracts of the simulated market: underlyings, option listings, conIds and matching.

Option conIds are structured (trading-class code, expiry day, strike in cents, right) so
they are unique, stable across processes and decodable without a lookup table. Request
matching is loose, as real clients send it: an empty currency, exchange, multiplier or
trading class is a wildcard, CALL/PUT are accepted and a YYYYMM expiry matches its month.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from collector.gateway_sim.hours import fx_hours, session_hours, zone_for
from collector.gateway_sim.listings import Expiry, listed_expiries, strike_grid
from collector.gateway_sim.market import UnderlyingModel
from collector.gateway_sim.profiles import (
    DEFAULT_NO_OPTIONS,
    KNOWN,
    Profile,
    profile_for,
    stable_u64,
)
from collector.gateway_sim.protocol import to_float, to_int

OPTION_EXCHANGES = ("SMART", "CBOE", "CBOEOPT", "AMEX", "ISE", "PHLX", "BOX", "PSE", "BATS")
SECDEF_EXCHANGES = ("SMART", "CBOE", "AMEX", "ISE")
# SPX, NDX and VIX options are listed on their home exchange only (CBOE's proprietary
# products; NDX on NASDAQOM in reality, modelled on CBOE's rule here): SMART routes there.
INDEX_OPTION_EXCHANGES = ("SMART", "CBOE")
STOCK_EXCHANGES = ("SMART", "NASDAQ", "ISLAND", "NYSE", "ARCA", "BATS", "IEX")
DAY0 = date(2000, 1, 1)


@dataclass(frozen=True)
class Instrument:
    """A contract as the gateway describes it in contractDetails."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    local_symbol: str
    trading_class: str
    long_name: str
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    under_con_id: int = 0
    under_sec_type: str = ""
    am_settled: bool = False


# The one currency pair: ib_async's Watchdog probes with Forex("EURUSD") (see fx.py).
EURUSD = Instrument(
    con_id=12087792,  # IB's conId for EUR.USD on IDEALPRO
    symbol="EUR",
    sec_type="CASH",
    exchange="IDEALPRO",
    primary_exchange="",
    local_symbol="EUR.USD",
    trading_class="EUR.USD",
    long_name="European Monetary Union Euro",
)


def is_eurusd(symbol: str, sec_type: str, currency: str, local_symbol: str) -> bool:
    if sec_type not in ("CASH", ""):
        return False
    return (symbol == "EUR" and currency in ("USD", "")) or local_symbol == "EUR.USD"


@dataclass(frozen=True)
class DetailsExtras:
    time_zone: str
    trading_hours: str
    liquid_hours: str
    valid_exchanges: str


@dataclass(frozen=True)
class ContractQuery:
    """The 12 inline contract fields of a client request, normalised."""

    con_id: int
    symbol: str
    sec_type: str
    expiry: str
    strike: float
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def from_fields(cls, f: Sequence[str]) -> ContractQuery:
        f = list(f) + [""] * (12 - len(f))
        right = f[5].strip().upper()
        right = {"CALL": "C", "PUT": "P", "?": ""}.get(right, right)
        return cls(
            to_int(f[0]),
            f[1].strip().upper(),
            f[2].strip().upper(),
            f[3].strip()[:8].replace("-", ""),
            to_float(f[4]),
            right,
            f[6].strip(),
            f[7].strip().upper(),
            f[8].strip().upper(),
            f[9].strip().upper(),
            f[10].strip(),
            f[11].strip().upper(),
        )


def class_code(trading_class: str) -> int:
    return 1 + stable_u64("class", trading_class) % 65535


def option_con_id(trading_class: str, expiry: date, strike: float, right: str) -> int:
    """16 bits class code | 14 bits day | 22 bits strike cents | 1 bit right (< 2**53)."""
    code = class_code(trading_class)
    days = (expiry - DAY0).days
    cents = round(strike * 100)
    return (((code << 14 | days) << 22 | cents) << 1) | (1 if right == "P" else 0)


def decode_option_con_id(con_id: int) -> tuple[int, date, float, str]:
    right = "P" if con_id & 1 else "C"
    cents = (con_id >> 1) & ((1 << 22) - 1)
    days = (con_id >> 23) & ((1 << 14) - 1)
    code = con_id >> 37
    return code, date.fromordinal(DAY0.toordinal() + days), cents / 100.0, right


def occ_symbol(root: str, expiry: date, right: str, strike: float) -> str:
    return f"{root:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


@dataclass(frozen=True)
class Chain:
    """The listed options of one underlying on one listing date."""

    profile: Profile
    on: date
    expiries: tuple[tuple[Expiry, tuple[float, ...]], ...]

    def classes(self) -> list[str]:
        return sorted({e.trading_class for e, _ in self.expiries})


class ContractBook:
    """Resolves client contract requests against the simulated listings."""

    def __init__(
        self,
        model: UnderlyingModel,
        unknown_symbols: tuple[str, ...] = (),
        no_options_symbols: tuple[str, ...] = DEFAULT_NO_OPTIONS,
    ) -> None:
        self.model = model
        self.unknown_symbols = tuple(s.upper() for s in unknown_symbols)
        self.no_options_symbols = tuple(s.upper() for s in no_options_symbols)
        self._classes: dict[int, str] = {}  # class code -> symbol, filled as chains are built
        self._underlyings: dict[int, Profile] = {p.con_id: p for p in KNOWN.values()}

    def profile(self, symbol: str) -> Profile | None:
        found = profile_for(symbol, self.unknown_symbols)
        if found is not None:
            self._underlyings.setdefault(found.con_id, found)
        return found

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one book per server
    def chain(self, symbol: str, on: date) -> Chain | None:
        profile = self.profile(symbol)
        if profile is None or profile.symbol in self.no_options_symbols:
            return None
        ref = self.model.previous_close(profile, on)
        rows = tuple((e, strike_grid(profile, e, on, ref)) for e in listed_expiries(profile, on))
        for expiry, _ in rows:
            self._classes[class_code(expiry.trading_class)] = profile.symbol
        return Chain(profile, on, rows)

    def underlying(self, profile: Profile) -> Instrument:
        tc = "NMS" if profile.primary_exchange == "NASDAQ" else profile.symbol
        if profile.is_index:
            tc = profile.symbol
        return Instrument(
            profile.con_id,
            profile.symbol,
            profile.sec_type,
            profile.exchange,
            profile.primary_exchange,
            profile.symbol,
            tc,
            profile.long_name,
        )

    def option(self, chain: Chain, expiry: Expiry, strike: float, right: str) -> Instrument:
        p = chain.profile
        return Instrument(
            option_con_id(expiry.trading_class, expiry.day, strike, right),
            p.symbol,
            "OPT",
            "SMART",
            "",
            occ_symbol(expiry.trading_class, expiry.day, right, strike),
            expiry.trading_class,
            p.long_name,
            expiry.text,
            strike,
            right,
            p.con_id,
            p.sec_type,
            expiry.am_settled,
        )

    def by_con_id(self, con_id: int, on: date) -> Instrument | None:
        """The instrument with this conId if it is listed on `on`."""
        if con_id in self._underlyings:
            return self.underlying(self._underlyings[con_id])
        if con_id < 1 << 37:
            return None
        code, day, strike, right = decode_option_con_id(con_id)
        symbol = self._classes.get(code)
        if symbol is None:
            return None
        chain = self.chain(symbol, on)
        if chain is None:
            return None
        for expiry, strikes in chain.expiries:
            listed = class_code(expiry.trading_class) == code and expiry.day == day
            if listed and strike in strikes:
                return self.option(chain, expiry, strike, right)
        return None

    def match(self, q: ContractQuery, on: date) -> list[Instrument]:
        """Every instrument matching a (possibly partial) request; [] means error 200."""
        if q.con_id == EURUSD.con_id or is_eurusd(q.symbol, q.sec_type, q.currency, q.local_symbol):
            return [EURUSD] if q.exchange in ("", "IDEALPRO") else []
        if q.con_id:
            if q.symbol and self.profile(q.symbol) is not None:
                self.chain(q.symbol, on)  # registers the symbol's classes for decoding
            found = self.by_con_id(q.con_id, on)
            if found is None or (q.symbol and q.symbol != found.symbol):
                return []
            return [found if found.sec_type != "OPT" else self._route(found, q.exchange)]
        profile = self.profile(q.symbol) if q.symbol else None
        if profile is None or q.currency not in ("", "USD"):
            return []
        if q.sec_type in ("STK", "IND", ""):
            if (q.sec_type or "STK") != profile.sec_type:
                return []
            allowed = ("", profile.exchange) if profile.is_index else ("", *STOCK_EXCHANGES)
            return [self.underlying(profile)] if q.exchange in allowed else []
        exchanges = INDEX_OPTION_EXCHANGES if profile.is_index else OPTION_EXCHANGES
        if q.sec_type != "OPT" or q.exchange not in ("", *exchanges):
            return []
        if q.multiplier not in ("", "100", "100.0"):
            return []
        chain = self.chain(profile.symbol, on)
        if chain is None:
            return []
        return [self._route(inst, q.exchange) for inst in self._options(chain, q)]

    def _options(self, chain: Chain, q: ContractQuery) -> list[Instrument]:
        out = []
        for expiry, strikes in chain.expiries:
            if q.trading_class and q.trading_class != expiry.trading_class:
                continue
            if q.expiry and not expiry.text.startswith(q.expiry):
                continue
            for strike in strikes:
                if q.strike and abs(strike - q.strike) > 1e-6:
                    continue
                for right in ("C", "P"):
                    if q.right and q.right != right:
                        continue
                    inst = self.option(chain, expiry, strike, right)
                    if not q.local_symbol or q.local_symbol == inst.local_symbol:
                        out.append(inst)
        return out

    @staticmethod
    def _route(inst: Instrument, exchange: str) -> Instrument:
        return replace(inst, exchange=exchange) if exchange else inst

    def details_extras(self, inst: Instrument, on: date) -> DetailsExtras:
        """The contractDetails fields that depend on where and when the contract trades."""
        if inst.sec_type == "CASH":
            hours = fx_hours(on)
            return DetailsExtras("US/Eastern", hours, hours, "IDEALPRO")
        profile = self.profile(inst.symbol)
        home = profile.exchange if profile is not None else "SMART"
        zone = zone_for(home)
        trading, liquid = session_hours(on, zone, extended=inst.sec_type == "STK")
        listed: tuple[str, ...]
        if inst.sec_type == "OPT":
            listed = INDEX_OPTION_EXCHANGES if inst.under_sec_type == "IND" else OPTION_EXCHANGES
        elif inst.sec_type == "IND":
            listed = (home,)
        else:
            listed = STOCK_EXCHANGES
        return DetailsExtras(zone, trading, liquid, ",".join(listed))

    def secdef(self, symbol: str, sec_type: str, con_id: int, on: date) -> list[tuple]:
        """reqSecDefOptParams rows: (exchange, underConId, tradingClass, expiries, strikes)."""
        profile = self.profile(symbol)
        if profile is None or (sec_type and sec_type != profile.sec_type):
            return []
        if con_id and con_id != profile.con_id:
            return []
        chain = self.chain(profile.symbol, on)
        if chain is None:
            return []
        rows = []
        for tc in chain.classes():
            picked = [(e, s) for e, s in chain.expiries if e.trading_class == tc]
            expiries = [e.text for e, _ in picked]
            strikes = sorted({k for _, s in picked for k in s})
            for exchange in INDEX_OPTION_EXCHANGES if profile.is_index else SECDEF_EXCHANGES:
                rows.append((exchange, profile.con_id, tc, expiries, strikes))
        return rows
