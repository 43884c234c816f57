"""What a client connection needs from the gateway that accepted it.

The connection is typed against this small protocol rather than the server class, so
connection.py does not import server.py (which imports the connection): the dependency
runs one way, and any object with these members can host connections.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from collector.gateway_sim.clock import SimClock
from collector.gateway_sim.config import SimConfig
from collector.gateway_sim.contracts import ContractBook
from collector.gateway_sim.faults import FaultPlan
from collector.gateway_sim.history import BarBuilder
from collector.gateway_sim.limits import HistoricalPacing, LinePool
from collector.gateway_sim.quotes import QuoteEngine


@dataclass
class SimStats:
    """Counters tests and benchmarks read (plain ints: safe to read from another thread)."""

    connections: int = 0
    messages_received: int = 0
    errors_sent: Counter[int] = field(default_factory=Counter)
    max_concurrent_lines: int = 0
    disconnects: int = 0  # server-initiated: faults and rate violations
    market_data_requests: int = 0
    historical_requests: int = 0
    refused: int = 0  # connections refused at the handshake or while the gateway is down
    restarts: int = 0  # nightly restarts and weekly re-logins begun

    def count_error(self, code: int) -> None:
        self.errors_sent[code] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "messages_received": self.messages_received,
            "errors_sent": dict(self.errors_sent),
            "max_concurrent_lines": self.max_concurrent_lines,
            "disconnects": self.disconnects,
            "market_data_requests": self.market_data_requests,
            "historical_requests": self.historical_requests,
            "refused": self.refused,
            "restarts": self.restarts,
        }


class GatewayState(Protocol):
    """The shared state and services a connection uses (GatewaySim provides them)."""

    config: SimConfig
    clock: SimClock
    book: ContractBook
    engine: QuoteEngine
    bars: BarBuilder
    lines: LinePool
    hist_pacing: HistoricalPacing
    faults: FaultPlan
    stats: SimStats

    def forget(self, conn: object) -> None: ...

    def client_id_in_use(self, client_id: int, asking: object) -> bool: ...

    def next_order_id(self) -> int: ...

    def sample_dwell(self) -> float: ...
