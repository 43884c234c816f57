"""Fault injection decisions, deterministic per seed, and the CLI spellings of faults."""

from __future__ import annotations

import random
import threading
from datetime import time

from collector.gateway_sim.config import FaultConfig, Leniency
from collector.gateway_sim.profiles import stable_unit

CONNECTIVITY_CODES = (1100, 1101, 1102)


class FaultPlan:
    """Answers 'does this fault hit here?' for one running simulator."""

    def __init__(self, faults: FaultConfig, seed: int) -> None:
        self.faults = faults
        self.seed = seed
        self._rng = random.Random(seed ^ 0x5EED)
        self._lock = threading.Lock()
        self._disconnects_fired = 0
        self.disconnect_at_fired = False

    def pacing_error(self) -> bool:
        rate = self.faults.pacing_error_rate
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def no_permission(self, symbol: str) -> bool:
        return symbol.upper() in {s.upper() for s in self.faults.no_permission_symbols}

    def competing_session(self, symbol: str) -> bool:
        return symbol.upper() in {s.upper() for s in self.faults.competing_session_symbols}

    def missing_greeks(self, con_id: int) -> bool:
        """The same contracts lack greeks for the whole run (a stable per-conId draw)."""
        fraction = self.faults.missing_greeks_fraction
        return fraction > 0 and stable_unit(self.seed, con_id, "missing-greeks") < fraction

    def should_disconnect(self, messages: int) -> bool:
        """Called per client message with the connection's message count."""
        limit = self.faults.disconnect_after_messages
        if limit is None or messages < limit:
            return False
        with self._lock:
            if self.faults.disconnect_once and self._disconnects_fired:
                return False
            self._disconnects_fired += 1
            return True


def parse_connectivity(text: str) -> tuple[tuple[float, int], ...]:
    """'5:1100,8:1102' -> ((5.0, 1100), (8.0, 1102)): seconds after a client connects."""
    events = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        at, sep, code = part.partition(":")
        try:
            seconds, number = float(at), int(code)
        except ValueError:
            raise ValueError(f"connectivity event must be SECONDS:CODE, got {part!r}") from None
        if not sep or seconds < 0 or number not in CONNECTIVITY_CODES:
            raise ValueError(
                f"connectivity event must be SECONDS:CODE with CODE in 1100/1101/1102, got {part!r}"
            )
        events.append((seconds, number))
    return tuple(sorted(events))


def parse_symbols(text: str) -> tuple[str, ...]:
    return tuple(s.strip().upper() for s in text.split(",") if s.strip())


LENIENT_RULES = {
    "closed-market": "closed_market_quotes",
    "snapshot": "snapshot_early_end",
    "rate-window": "sliding_rate_window",
    "pacing": "pace_all_bar_sizes",
}


def parse_leniency(text: str) -> Leniency:
    """'snapshot,closed-market' (or 'all') -> the Leniency switching those rules."""
    names = {p.strip().lower() for p in text.split(",") if p.strip()}
    if "all" in names:
        names = set(LENIENT_RULES)
    unknown = names - set(LENIENT_RULES)
    if unknown:
        choices = ", ".join([*LENIENT_RULES, "all"])
        raise ValueError(f"--lenient takes {choices}; got {', '.join(sorted(unknown))}")
    return Leniency(**{LENIENT_RULES[n]: True for n in names})


def parse_hhmm(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"time must be HH:MM (ET), got {text!r}") from None
