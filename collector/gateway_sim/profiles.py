"""Who exists in the simulated market: underlying profiles, conIds and symbol rules.

Everything here is a pure function of its inputs. Randomness comes from `stable_u64`, a
keyed BLAKE2 hash, so the same inputs give the same values in every process (Python's
hash() is salted per process and must not be used).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


def stable_u64(*parts: object) -> int:
    """A 64-bit integer that depends only on `parts` (stable across runs and processes)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stable_unit(*parts: object) -> float:
    """A uniform number in [0, 1) from `parts`."""
    return stable_u64(*parts) / 2**64


def stable_normal(*parts: object) -> float:
    """A standard normal number from `parts` (Box-Muller on two stable uniforms)."""
    u1 = max(stable_unit("n1", *parts), 1e-12)
    u2 = stable_unit("n2", *parts)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@dataclass(frozen=True)
class Profile:
    """An underlying and the parameters of its synthetic market."""

    symbol: str
    sec_type: str  # STK or IND
    con_id: int
    exchange: str  # SMART for stocks, the listing exchange for indices
    primary_exchange: str
    long_name: str
    base_price: float
    vol: float  # long-run at-the-money implied volatility
    div_yield: float
    daily_shares: int  # typical daily share volume (index: 0)
    option_style: str  # "equity" (weeklies), "etf" (dailies), "index" (SPX-like), "vix"

    @property
    def is_index(self) -> bool:
        return self.sec_type == "IND"


# Real conIds for the names the project collects; parameters are round, plausible values.
# ("-" = no primary exchange; shares in millions per day; the long name is the rest of the line)
_TABLE = """
AAPL STK 265598    SMART  NASDAQ   230.0 0.26 0.005   55 equity APPLE INC
MSFT STK 272093    SMART  NASDAQ   420.0 0.24 0.008   22 equity MICROSOFT CORP
SPY  STK 756733    SMART  ARCA     590.0 0.15 0.012   60 etf    SPDR S&P 500 ETF TRUST
QQQ  STK 320227571 SMART  NASDAQ   510.0 0.19 0.006   40 etf    INVESCO QQQ TRUST SERIES 1
TSLA STK 76792991  SMART  NASDAQ   330.0 0.58 0.0     95 equity TESLA INC
NVDA STK 4815747   SMART  NASDAQ   140.0 0.48 0.0003 250 equity NVIDIA CORP
SPX  IND 416904    CBOE   -       5900.0 0.15 0.013    0 index  S&P 500 Stock Index
NDX  IND 416843    NASDAQ -      20800.0 0.19 0.007    0 index  NASDAQ 100 Stock Index
VIX  IND 13455763  CBOE   -         17.0 0.85 0.0      0 vix    CBOE Volatility Index
"""


def _parse_table(text: str) -> dict[str, Profile]:
    out = {}
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        sym, sec, con_id, exch, primary, price, vol, div, shares, style, name = line.split(None, 10)
        out[sym] = Profile(
            sym,
            sec,
            int(con_id),
            exch,
            "" if primary == "-" else primary,
            name,
            float(price),
            float(vol),
            float(div),
            int(shares) * 1_000_000,
            style,
        )
    return out


KNOWN: dict[str, Profile] = _parse_table(_TABLE)

DEFAULT_NO_OPTIONS = ("NOOPT",)
UNKNOWN_PREFIX = "ZZ"


def is_unknown(symbol: str, unknown_symbols: tuple[str, ...] = ()) -> bool:
    """Symbols the gateway answers with error 200: malformed, 'ZZ*' or configured."""
    return (
        not SYMBOL_RE.match(symbol)
        or symbol.startswith(UNKNOWN_PREFIX)
        or symbol in unknown_symbols
    )


def derived_con_id(symbol: str) -> int:
    """A stable conId for a generated stock, away from the option conId range."""
    return 100_000_000 + stable_u64("conid", symbol) % 800_000_000


def generated_profile(symbol: str) -> Profile:
    """Parameters for any other well-formed symbol: a listed stock with weekly options."""
    price = round(15.0 * math.exp(3.0 * stable_unit("price", symbol)), 2)  # 15 .. 300
    vol = round(0.18 + 0.45 * stable_unit("vol", symbol), 3)
    shares = int(2_000_000 * math.exp(2.5 * stable_unit("shares", symbol)))
    return Profile(
        symbol,
        "STK",
        derived_con_id(symbol),
        "SMART",
        "NYSE",
        f"{symbol} SIMULATED INC",
        price,
        vol,
        0.01,
        shares,
        "equity",
    )


def profile_for(symbol: str, unknown_symbols: tuple[str, ...] = ()) -> Profile | None:
    """The profile of `symbol`, or None when the gateway does not know it."""
    symbol = symbol.upper()
    if symbol in KNOWN:
        return KNOWN[symbol]
    if is_unknown(symbol, unknown_symbols):
        return None
    return generated_profile(symbol)
