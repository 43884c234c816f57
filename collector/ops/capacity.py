"""`opt-data capacity`: how many contracts a slot holds, how long one login needs, how many
logins (shards) finish a slot inside its window.

The model is the engine's own (ARCHITECTURE section 5): each contract costs a request and a
cancel against IB's message limit, and holds one of `snapshot.max_lines` lines for its
dwell, so one login serves at most

    contracts/s = min(messages_per_s / 2, max_lines / dwell)

where messages_per_s is `ib.max_messages_per_sec` per the engine's 1.05 s window. A slot
must be collected before the next one starts (`schedule.slot_interval_minutes`, of which
90% is planned on); a universe that needs longer is split over several logins.

Contract counts come from the day's contract caches when they exist (what discovery really
found), else from the selection settings (an upper bound: every selected expiry with its
full strike budget).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date

from shared.config import AppConfig
from shared.storage import Layout
from shared.universe import UniverseEntry, read_universe, universe_file

MESSAGE_WINDOW_SEC = 1.05  # the engine's budget window (collector/ib/session.py)
# A slot plans on 90% of its window: the rest absorbs reconnects, slow dwell tails and a
# start up to slot_grace_seconds late, so a slot that "fits" does not overrun the next one.
HEADROOM = 0.9
MESSAGES_PER_CONTRACT = 2  # one reqMktData, one cancelMktData
DEFAULT_DWELL_SEC = 2.0  # first quote and model greeks of a liquid option, seen on the simulator


@dataclass(frozen=True)
class SymbolLoad:
    symbol: str
    contracts: int
    source: str  # "cache <date>" or "estimate"


@dataclass(frozen=True)
class Capacity:
    contracts: int
    messages_per_sec: float
    max_lines: int
    dwell_sec: float
    window_sec: float

    @property
    def message_bound(self) -> float:
        return self.messages_per_sec / MESSAGES_PER_CONTRACT

    @property
    def line_bound(self) -> float:
        return self.max_lines / self.dwell_sec

    @property
    def contracts_per_sec(self) -> float:
        """What one login sustains: the tighter of the message and the line bound."""
        return min(self.message_bound, self.line_bound)

    @property
    def bound_by(self) -> str:
        return "messages" if self.message_bound <= self.line_bound else "lines"

    @property
    def seconds_per_slot(self) -> float:
        return self.contracts / self.contracts_per_sec if self.contracts else 0.0

    @property
    def usable_sec(self) -> float:
        return HEADROOM * self.window_sec

    @property
    def shards(self) -> int:
        """Logins needed so that each finishes its share of a slot inside the usable window."""
        return max(1, math.ceil(self.seconds_per_slot / self.usable_sec))

    @property
    def per_login_contracts(self) -> int:
        """The most contracts one login finishes inside one slot's usable window."""
        return int(self.contracts_per_sec * self.usable_sec)


def estimate_per_symbol(cfg: AppConfig) -> int:
    """Upper bound from the selection settings: expiries x strikes x 2 rights, the strikes
    being the near ones plus one wing strike each side per `discovery.wing_moneyness`
    (collector/pipeline/selection.py), capped at `max_strikes_per_expiry`."""
    d = cfg.discovery
    expiries = d.near_weeklies + d.monthlies + d.quarterlies
    per_side = cfg.snapshot.strikes_per_side or d.strikes_per_side
    strikes = min(2 * per_side + 2 * len(d.wing_moneyness), d.max_strikes_per_expiry)
    return expiries * strikes * 2


def symbol_loads(
    cfg: AppConfig, entries: list[UniverseEntry], cache_date: date | None
) -> list[SymbolLoad]:
    """Each symbol's contracts per slot: from its contract cache of `cache_date`, else estimated."""
    layout = Layout.from_config(cfg)
    estimate = estimate_per_symbol(cfg)
    out: list[SymbolLoad] = []
    for entry in entries:
        counted = _cached_count(layout, entry.symbol, cache_date) if cache_date else None
        if counted is None:
            out.append(SymbolLoad(entry.symbol, estimate, "estimate"))
        else:
            out.append(SymbolLoad(entry.symbol, counted, f"cache {cache_date}"))
    return out


def _cached_count(layout: Layout, symbol: str, day: date) -> int | None:
    path = layout.contract_cache_file(symbol, day)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return len(doc["contracts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def plan_capacity(
    cfg: AppConfig, contracts: int, *, dwell_sec: float = DEFAULT_DWELL_SEC
) -> Capacity:
    return Capacity(
        contracts=contracts,
        messages_per_sec=cfg.ib.max_messages_per_sec / MESSAGE_WINDOW_SEC,
        max_lines=cfg.snapshot.max_lines,
        dwell_sec=dwell_sec,
        window_sec=cfg.schedule.slot_interval_minutes * 60.0,
    )


def universe_entries(cfg: AppConfig) -> list[UniverseEntry]:
    return read_universe(universe_file(cfg, "intraday"))
