"""A simulated IB Gateway speaking the TWS socket protocol (never imports ib_async).

    from collector.gateway_sim import SimConfig, SimThread
    with SimThread(SimConfig.fast()) as sim:
        ib.connect("127.0.0.1", sim.port, clientId=1, readonly=True)

See docs/simulator.md for the market model, limits and faults.
"""

from collector.gateway_sim.clock import SimClock, parse_clock
from collector.gateway_sim.config import DwellConfig, FaultConfig, Leniency, SimConfig
from collector.gateway_sim.server import GatewaySim
from collector.gateway_sim.state import SimStats
from collector.gateway_sim.thread import SimThread

__all__ = [
    "DwellConfig",
    "FaultConfig",
    "GatewaySim",
    "Leniency",
    "SimClock",
    "SimConfig",
    "SimStats",
    "SimThread",
    "parse_clock",
]
