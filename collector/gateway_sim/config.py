"""Configuration of the simulated gateway: limits, dwell, clock and faults (all frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from collector.gateway_sim.profiles import DEFAULT_NO_OPTIONS


@dataclass(frozen=True)
class DwellConfig:
    """Time from a market-data request until model greeks arrive, per contract.

    Log-normal around `median`, clipped to [low, high]; quotes arrive after
    `quote_fraction` of the dwell. The default gives roughly 0.3-3 s, median ~1 s.
    """

    median: float = 1.0
    sigma: float = 0.6
    low: float = 0.3
    high: float = 3.0
    quote_fraction: float = 0.15


@dataclass(frozen=True)
class Leniency:
    """Switches back to the simulator's older, kinder behaviour, one rule at a time.

    Every default is False: the faithful rule (docs/simulator.md cites each source).
    """

    closed_market_quotes: bool = False  # type 1 outside a session gets frozen bid/ask
    snapshot_early_end: bool = False  # a snapshot ends once its data is complete
    sliding_rate_window: bool = False  # strict sliding 1 s window instead of IB's bucket
    pace_all_bar_sizes: bool = False  # historical pacing for every bar size, not <= 30 s


@dataclass(frozen=True)
class FaultConfig:
    """Switchable faults; the defaults inject nothing."""

    disconnect_after_messages: int | None = None  # close a connection after N client msgs
    disconnect_once: bool = True  # only the first connection that reaches N is dropped
    disconnect_at: datetime | None = None  # drop every connection when the clock passes it
    pacing_error_rate: float = 0.0  # fraction of hist (162) / market data (420) requests
    no_permission_symbols: tuple[str, ...] = ()  # 354 for types 1/2; delayed for 3/4
    missing_greeks_fraction: float = 0.0  # contracts whose model greeks are IB sentinels
    slow_ticks_factor: float = 1.0  # multiplies dwell and tick intervals
    competing_session_symbols: tuple[str, ...] = ()  # 10197 on market data requests
    connectivity_events: tuple[tuple[float, int], ...] = ()  # (seconds after connect, code)
    # The gateway's daily life: at this ET time every day (sim clock) every client is
    # dropped and connections are refused for `restart_minutes`, as IBC restarts it.
    nightly_restart: time | None = None
    restart_minutes: float = 2.0
    # The weekly full login: on Sundays the gateway stays down this many hours after the
    # nightly restart (0 = no weekly outage).
    sunday_relogin_hours: float = 0.0


@dataclass(frozen=True)
class SimConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    seed: int = 7
    max_lines: int = 100
    msg_rate_limit: int = 50  # client messages within any 1 s window before error 100
    rate_disconnect_after: float = 2.0  # keep exceeding this long (s) -> disconnect
    dwell: DwellConfig = field(default_factory=DwellConfig)
    # A snapshot ends as soon as its data is complete (quotes, and greeks for options);
    # when data stays incomplete (missing greeks, no quotes) it ends after this many seconds.
    snapshot_end_delay: float = 11.0
    tick_interval: float = 1.0  # seconds between streaming updates while the market is open
    clock_start: datetime | None = None  # None = wall time
    speed: float = 1.0
    account: str = "DU1234567"
    unknown_symbols: tuple[str, ...] = ()  # besides 'ZZ*' and malformed symbols
    no_options_symbols: tuple[str, ...] = DEFAULT_NO_OPTIONS
    hist_identical_window: float = 15.0  # identical historical request within -> 162
    hist_max_requests: int = 60  # more than this many within hist_window -> 162
    hist_window: float = 600.0
    delayed_minutes: float = 15.0  # delayed data lags the live market by this much
    reject_duplicate_client_id: bool = True  # 326, as TWS does
    lenient: Leniency = field(default_factory=Leniency)
    faults: FaultConfig = field(default_factory=FaultConfig)

    @classmethod
    def fast(cls, **overrides: object) -> SimConfig:
        """Test settings: dwell in tens of milliseconds, snapshots end within 0.3 s."""
        base: dict[str, object] = dict(
            dwell=DwellConfig(median=0.03, sigma=0.4, low=0.01, high=0.08),
            snapshot_end_delay=0.3,
            tick_interval=0.1,
        )
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]
