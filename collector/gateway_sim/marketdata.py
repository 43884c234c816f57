"""One market-data line: the ticks a reqMktData subscription or snapshot receives.

Order of events, as on a real gateway: tickReqParams, marketDataType (after every
request, TWS v970+), quotes after a fraction of the dwell, model greeks after the dwell,
then either tickSnapshotEnd (snapshot, at the end of IB's 11 s window) or updates every
tick interval while the market moves. Outside a session a live (type 1) request gets
-1 for bid and ask: the frozen quote needs type 2 (IB's "Market Data Types" page).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from collector.gateway_sim import messages as msg
from collector.gateway_sim.config import Leniency
from collector.gateway_sim.contracts import Instrument
from collector.gateway_sim.market import MarketTime, listing_date, market_time
from collector.gateway_sim.profiles import Profile
from collector.gateway_sim.protocol import Field
from collector.gateway_sim.quotes import Quote, QuoteEngine

Send = Callable[[list[Field]], None]


@dataclass
class LineRequest:
    req_id: int
    inst: Instrument
    profile: Profile
    generic: frozenset[int]
    snapshot: bool
    delayed: bool  # no permission, delayed data requested (types 3/4)
    dwell: float  # real seconds until model greeks arrive
    missing_greeks: bool
    quote_fraction: float
    tick_interval: float  # real seconds between updates
    snapshot_end_delay: float
    delayed_minutes: float
    requested_type: int = 1  # the connection's reqMarketDataType when the line opened
    lenient: Leniency = field(default_factory=Leniency)
    sent: dict[int, float | str] = field(default_factory=dict)


class MarketDataLine:
    """Runs one subscription until cancelled (streaming) or complete (snapshot)."""

    def __init__(
        self,
        req: LineRequest,
        engine: QuoteEngine,
        now: Callable[[], datetime],
        send: Send,
        paused: Callable[[], bool],
    ) -> None:
        self.req = req
        self.engine = engine
        self.now = now
        self.send = send
        self.paused = paused
        self._md_type = 0

    def _market(self) -> MarketTime:
        at = self.now()
        if self.req.delayed:
            at -= timedelta(minutes=self.req.delayed_minutes)
        return market_time(at)

    def _quote(self, when: MarketTime) -> Quote:
        q = self.engine.quote(self.req.inst, self.req.profile, when, listing_date(self.now()))
        if not when.is_open and not self._frozen(when):
            q = replace(q, bid=-1.0, ask=-1.0, bid_size=0, ask_size=0)  # no live quote
        return q

    def _frozen(self, when: MarketTime) -> bool:
        """Closed market and the client asked for frozen data (types 2 and 4)."""
        if when.is_open:
            return False
        return self.req.requested_type in (2, 4) or self.req.lenient.closed_market_quotes

    def _md_type_for(self, when: MarketTime) -> int:
        frozen = self._frozen(when)
        if self.req.delayed:
            return 4 if frozen else 3
        return 2 if frozen else 1

    async def run(self) -> None:
        req = self.req
        self.send(msg.tick_req_params(req.req_id))
        when = self._market()
        self._announce_type(when)
        is_option = req.inst.sec_type == "OPT"
        quote_delay = req.dwell * req.quote_fraction
        # A snapshot gathers what arrives within IB's window and ends with it; the
        # lenient rule ends it as soon as its data is complete.
        deadline = req.snapshot_end_delay if req.snapshot else float("inf")
        await asyncio.sleep(min(quote_delay, deadline))
        when = self._market()
        quote = self._quote(when)
        self._send_quote(quote)
        self._send_generics(quote, first=True)
        elapsed = quote_delay
        if is_option and req.dwell <= deadline:
            await asyncio.sleep(req.dwell - quote_delay)
            when = self._market()
            self._send_greeks(self._quote(when), when)
            elapsed = req.dwell
        if req.snapshot:
            complete = not is_option or (req.dwell <= deadline and not req.missing_greeks)
            if not (complete and req.lenient.snapshot_early_end):
                await asyncio.sleep(max(deadline - elapsed, 0.0))
            self.send(msg.tick_snapshot_end(req.req_id))
            return
        while True:
            await asyncio.sleep(req.tick_interval)
            if self.paused():
                continue
            when = self._market()
            self._announce_type(when)
            quote = self._quote(when)
            self._send_quote(quote)
            self._send_generics(quote, first=False)
            if is_option:
                self._send_greeks(quote, when)

    def _announce_type(self, when: MarketTime) -> None:
        """After every request (TWS v970+: type 1 too), then whenever the type changes."""
        md_type = self._md_type_for(when)
        if md_type != self._md_type:
            self.send(msg.market_data_type(self.req.req_id, md_type))
        self._md_type = md_type

    def _changed(self, tick: int, value: float | str) -> bool:
        """True (and remembered) when a tick's value differs from what was last sent."""
        if self.req.sent.get(tick) == value:
            return False
        self.req.sent[tick] = value
        return True

    def _price(self, tick: int, price: float | None, size: float = 0) -> None:
        if price is None or (isinstance(price, float) and math.isnan(price)):
            return
        if self._changed(tick, (price, size)):  # type: ignore[arg-type]
            self.send(
                msg.tick_price(self.req.req_id, msg.tick_id(tick, self.req.delayed), price, size)
            )

    def _size(self, tick: int, size: float) -> None:
        if self._changed(tick, size):
            self.send(msg.tick_size(self.req.req_id, msg.tick_id(tick, self.req.delayed), size))

    def _send_quote(self, q: Quote) -> None:
        rid, delayed = self.req.req_id, self.req.delayed
        if self.req.inst.sec_type != "IND":
            self._price(1, q.bid, q.bid_size)
            self._price(2, q.ask, q.ask_size)
            self._size(0, q.bid_size)
            self._size(3, q.ask_size)
        if q.last is not None:
            self._price(4, q.last, q.last_size)
            self._size(5, q.last_size)
            if self._changed(45, "ts"):
                epoch = int(self._market().at.timestamp())
                self.send(msg.tick_string(rid, msg.tick_id(45, delayed), str(epoch)))
        self._size(8, q.volume)
        self._price(9, q.close)  # changes only when the trade date does
        for tick, value in ((14, q.open), (6, q.high), (7, q.low)):
            self._price(tick, value)  # options: high/low once they have traded

    def _send_greeks(self, q: Quote, when: MarketTime) -> None:
        """Model greeks (13), plus bid/ask computations (10/11) at the quotes' implied vols."""
        req = self.req
        if req.missing_greeks or q.greeks is None:
            if self._changed(13, "sentinel"):
                self.send(msg.greeks_not_computed(req.req_id, msg.tick_id(13, req.delayed)))
            return
        sides = [(13, q.greeks, q.greeks.price)]
        for tick, price in ((10, q.bid), (11, q.ask), (12, q.last if q.last else -1.0)):
            side = self.engine.side_greeks(req.inst, req.profile, when, price, q.und_price)
            if side is not None:
                sides.append((tick, side, price))
        for tick, g, price in sides:
            values = (g.iv, g.delta, price, g.pv_dividend, g.gamma, g.vega, g.theta, q.und_price)
            if self._changed(tick, str(tuple(round(v, 6) for v in values))):
                rid, tid = req.req_id, msg.tick_id(tick, req.delayed)
                self.send(msg.tick_option_computation(rid, tid, *values))

    def _send_generics(self, q: Quote, first: bool) -> None:
        """Generic ticks as IB's tick-type table assigns them: several are for the
        underlying only ("currently for stocks"), so an option line does not get them."""
        req, rid = self.req, self.req.req_id
        is_option = req.inst.sec_type == "OPT"
        under = not is_option
        g = req.generic
        if 101 in g:
            if is_option:
                self._size(27 if req.inst.right == "C" else 28, q.open_interest)
            else:
                self._size(27, q.call_open_interest)
                self._size(28, q.put_open_interest)
        if 100 in g:
            if is_option:
                self._size(29 if req.inst.right == "C" else 30, q.volume)
            else:
                self._size(29, q.call_volume)
                self._size(30, q.put_volume)
        if 106 in g and under and self._changed(24, round(q.atm_iv, 6)):
            self.send(msg.tick_generic(rid, 24, q.atm_iv))  # the underlying's 30-day IV
        if first and 104 in g and under:
            self.send(msg.tick_generic(rid, 23, round(req.profile.vol * 0.9, 4)))
        if 105 in g and under:
            self._size(87, int((q.call_volume + q.put_volume) * 0.9))  # avg option volume
        if first and 165 in g:
            low, high = q.range_52w
            for tick, value in ((15, low * 1.08), (16, high * 0.95), (17, low * 1.04)):
                self._price(tick, round(value, 2))
            for tick, value in ((18, high * 0.98), (19, low), (20, high)):
                self._price(tick, round(value, 2))
            if under:
                self._size(21, int(req.profile.daily_shares / 100))
        if 221 in g and q.bid > 0 and q.ask > 0:
            self._price(37, round((q.bid + q.ask) / 2, 4))  # mark price
        if first and 225 in g and under and q.open is not None:
            self._size(34, int(q.volume * 0.01))  # the opening auction's volume
            self._price(35, q.open)
            self._size(36, 0)
        if 293 in g and self._changed(54, q.volume // 20):
            self.send(msg.tick_generic(rid, 54, float(q.volume // 20)))  # trade count
        if first and 294 in g:
            self.send(msg.tick_generic(rid, 55, round(q.volume / 20 / 390, 4)))  # trades/min
        if first and 295 in g:
            self.send(msg.tick_generic(rid, 56, round(q.volume / 390, 4)))  # volume/min
        if 233 in g and q.last is not None and self._changed(48, (q.last, q.volume)):  # type: ignore[arg-type]
            millis = int(self._market().at.timestamp() * 1000)
            text = f"{q.last};{q.last_size};{millis};{q.volume};{q.last};true"
            self.send(msg.tick_string(rid, 48, text))
