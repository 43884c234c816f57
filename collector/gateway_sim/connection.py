"""One client connection: handshake, message-rate policing and request dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from collector.gateway_sim import fx
from collector.gateway_sim import messages as msg
from collector.gateway_sim.contracts import ContractQuery
from collector.gateway_sim.history import (
    HistoryError,
    HistRequest,
    edge_label,
    parse_bar_size,
    parse_end,
    sessions_in,
)
from collector.gateway_sim.limits import MessageRate, RateVerdict
from collector.gateway_sim.market import listing_date
from collector.gateway_sim.marketdata import LineRequest, MarketDataLine
from collector.gateway_sim.protocol import (
    Field,
    ProtocolError,
    decode_body,
    encode,
    read_frame,
    read_hello,
    to_int,
)
from collector.gateway_sim.state import GatewayState
from collector.gateway_sim.versions import (
    SERVER_VERSION_MAX,
    SERVER_VERSION_MIN,
    choose_version,
    downgrade,
)

log = logging.getLogger(__name__)


class ClientConnection:
    def __init__(
        self,
        sim: GatewayState,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.number = number
        self.client_id: int | None = None
        self.version = SERVER_VERSION_MAX  # the agreed version, set by the handshake
        self.md_type = 1
        self.messages = 0
        self.rate = MessageRate(
            sim.config.msg_rate_limit,
            sim.config.rate_disconnect_after,
            sliding=sim.config.lenient.sliding_rate_window,
        )
        self.lines: dict[int, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.connectivity_lost = False
        self.closing = False
        self.handlers: dict[int, Callable[[list[str]], None]] = {
            71: self.on_start_api,  # startApi
            61: lambda f: self.send(msg.position_end()),  # reqPositions
            6: self.on_account_updates,  # reqAccountUpdates
            76: lambda f: self.send(msg.account_update_multi_end(self._id(f))),  # ...Multi
            7: lambda f: self.send(msg.exec_details_end(self._id(f))),  # reqExecutions
            5: lambda f: self.send(msg.open_order_end()),  # reqOpenOrders
            99: lambda f: self.send(msg.completed_orders_end()),  # reqCompletedOrders
            62: lambda f: self.send(msg.account_summary_end(self._id(f))),  # reqAccountSummary
            17: lambda f: self.send(msg.managed_accounts(sim.config.account)),  # reqManagedAccts
            8: lambda f: self.send(msg.next_valid_id(sim.next_order_id())),  # reqIds
            49: lambda f: self.send(msg.current_time(int(sim.clock.now().timestamp()))),
            59: self.on_market_data_type,
            9: self.on_contract_details,
            78: self.on_secdef,
            1: self.on_mkt_data,
            2: self.on_cancel_mkt_data,
            20: self.on_historical,
            25: lambda f: None,  # cancelHistoricalData: the bars were sent at once
        }

    # -- plumbing -------------------------------------------------------------------
    def send(self, fields: list[Field]) -> None:
        if self.closing or self.writer.is_closing():
            return
        if fields and fields[0] == 4:
            self.sim.stats.count_error(int(fields[3]))  # type: ignore[arg-type]
        self.writer.write(encode(downgrade(fields, self.version)))

    def error(self, req_id: int, code: int, text: str | None = None) -> None:
        self.send(msg.error(req_id, code, text))

    @staticmethod
    def _id(fields: list[str]) -> int:
        return to_int(fields[2]) if len(fields) > 2 else -1

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def serve(self) -> None:
        try:
            low, high, _ = await read_hello(self.reader)
            version = choose_version(low, high)
            if version is None:
                self._refuse(low, high)
                return
            self.version = version
            self.writer.write(encode(msg.handshake(version, self.sim.clock.now())))
            while not self.closing:
                fields = decode_body(await read_frame(self.reader))
                if not fields:
                    continue
                if not self._police():
                    break
                self.dispatch(fields)
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError):
            pass
        finally:
            await self.shutdown()

    def _refuse(self, low: int, high: int) -> None:
        """No version both sides speak: one error frame in the oldest error layout (which
        every client decodes before the handshake), then the socket closes."""
        code = 503 if low > SERVER_VERSION_MAX else 506
        text = (
            f"{msg.ERROR_TEXT[code]} (client v{low}..{high},"
            f" gateway v{SERVER_VERSION_MIN}..{SERVER_VERSION_MAX})"
        )
        log.info("refusing a client that speaks v%d..%d", low, high)
        self.sim.stats.refused += 1
        self.sim.stats.count_error(code)
        self.writer.write(encode(msg.error(-1, code, text)[:-1]))

    def _police(self) -> bool:
        """Count a client message; False when the connection must be dropped."""
        self.messages += 1
        self.sim.stats.messages_received += 1
        verdict = self.rate.hit(time.monotonic())
        if verdict is RateVerdict.EXCEEDED:
            self.error(
                -1,
                100,
                f"Max rate of messages per second has been exceeded:"
                f"max={self.rate.limit} rec={self.rate.in_window} (1)",
            )
        elif verdict is RateVerdict.DISCONNECT:
            log.warning("client %s kept exceeding the message rate: disconnecting", self.client_id)
            self.drop()
            return False
        if self.sim.faults.should_disconnect(self.messages):
            log.info(
                "fault: disconnecting client %s after %d messages", self.client_id, self.messages
            )
            self.drop()
            return False
        return True

    def dispatch(self, fields: list[str]) -> None:
        msg_id = to_int(fields[0], -1)
        handler = self.handlers.get(msg_id)
        if handler is None:
            log.debug("ignoring client message %s", msg_id)
            return
        try:
            handler(fields)
        except Exception:  # a malformed request must not take the gateway down
            log.exception("failed to handle client message %s", msg_id)
            if len(fields) > 2 and msg_id in (1, 9, 20, 78):
                self.error(
                    to_int(fields[2] if msg_id != 78 else fields[1]),
                    321,
                    "Error validating request",
                )

    def drop(self) -> None:
        """Server-side disconnect (fault or rate violation)."""
        if not self.closing:
            self.sim.stats.disconnects += 1
        self.closing = True
        with contextlib.suppress(Exception):
            self.writer.close()

    async def shutdown(self) -> None:
        self.closing = True
        for req_id in list(self.lines):
            self._end_line(req_id)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.sim.forget(self)
        with contextlib.suppress(Exception):
            self.writer.close()
            await self.writer.wait_closed()

    # -- session ----------------------------------------------------------------------
    def on_start_api(self, fields: list[str]) -> None:
        client_id = to_int(fields[2]) if len(fields) > 2 else 0
        if self.sim.config.reject_duplicate_client_id and self.sim.client_id_in_use(
            client_id, self
        ):
            self.error(
                -1,
                326,
                f"Unable to connect as the client id {client_id} is already in use."
                " Retry with a unique client id.",
            )
            self.drop()
            return
        self.client_id = client_id
        self.send(msg.managed_accounts(self.sim.config.account))
        self.send(msg.next_valid_id(self.sim.next_order_id()))
        for code in (2104, 2106, 2158):
            self.error(-1, code)
        for delay, code in self.sim.config.faults.connectivity_events:
            self.spawn(self._connectivity(delay, code))

    async def _connectivity(self, delay: float, code: int) -> None:
        await asyncio.sleep(delay)
        self.error(-1, code)
        self.connectivity_lost = code == 1100
        if code == 1101:  # data lost: subscriptions are gone, the client must resubscribe
            for req_id in list(self.lines):
                self._end_line(req_id)

    def on_account_updates(self, fields: list[str]) -> None:
        if len(fields) > 2 and fields[2] == "1":
            self.send(msg.account_download_end(self.sim.config.account))

    def on_market_data_type(self, fields: list[str]) -> None:
        md_type = to_int(fields[2], 1) if len(fields) > 2 else 1
        self.md_type = md_type if md_type in (1, 2, 3, 4) else 1

    # -- contracts --------------------------------------------------------------------
    def on_contract_details(self, fields: list[str]) -> None:
        req_id = to_int(fields[2])
        query = ContractQuery.from_fields(fields[3:15])
        on = listing_date(self.sim.clock.now())
        found = self.sim.book.match(query, on)
        if not found:
            self.error(req_id, 200)
            return
        today = self.sim.clock.now().date()
        for inst in found:
            extras = self.sim.book.details_extras(inst, today)
            self.send(msg.contract_details(req_id, inst, extras))
        self.send(msg.contract_details_end(req_id))

    def on_secdef(self, fields: list[str]) -> None:
        f = fields + [""] * 6
        req_id, symbol, sec_type, con_id = to_int(f[1]), f[2].upper(), f[4].upper(), to_int(f[5])
        on = listing_date(self.sim.clock.now())
        for exchange, under, tc, expiries, strikes in self.sim.book.secdef(
            symbol, sec_type, con_id, on
        ):
            self.send(msg.secdef_option_params(req_id, exchange, under, tc, expiries, strikes))
        self.send(msg.secdef_option_params_end(req_id))

    # -- market data ------------------------------------------------------------------
    def on_mkt_data(self, fields: list[str]) -> None:
        req_id = to_int(fields[2])
        query = ContractQuery.from_fields(fields[3:15])
        rest = fields[15:]
        if rest and rest[0] == "1":  # delta-neutral contract: conId, delta, price
            rest = rest[3:]
        rest = [*rest[1:], "", "", ""]
        generic = frozenset(to_int(t) for t in rest[0].split(",") if t.strip())
        snapshot = rest[1] == "1" or rest[2] == "1"
        sim, faults = self.sim, self.sim.faults
        sim.stats.market_data_requests += 1
        if req_id in self.lines:
            self.error(req_id, 322)
            return
        if faults.pacing_error():
            self.error(req_id, 420)
            return
        found = (
            sim.book.match(query, listing_date(sim.clock.now())) if query.sec_type != "BAG" else []
        )
        if len(found) != 1:
            self.error(req_id, 200)
            return
        inst = found[0]
        if inst.sec_type == "CASH":  # FX is modelled for contract details and history only
            self.error(req_id, 354)
            return
        if snapshot and generic:
            self.error(req_id, 321)
            return
        if faults.competing_session(inst.symbol):
            self.error(req_id, 10197)
            return
        delayed = faults.no_permission(inst.symbol)
        if delayed and self.md_type in (1, 2):
            self.error(req_id, 354)
            return
        if not sim.lines.acquire((self.number, req_id)):
            self.error(req_id, 101)
            return
        sim.stats.max_concurrent_lines = max(sim.stats.max_concurrent_lines, len(sim.lines))
        if delayed:
            self.error(req_id, 10167)
        profile = sim.book.profile(inst.symbol)
        assert profile is not None
        cfg, slow = sim.config, max(faults.faults.slow_ticks_factor, 0.0)
        req = LineRequest(
            req_id,
            inst,
            profile,
            generic,
            snapshot,
            delayed,
            dwell=sim.sample_dwell() * slow,
            missing_greeks=faults.missing_greeks(inst.con_id),
            quote_fraction=cfg.dwell.quote_fraction,
            tick_interval=cfg.tick_interval * slow,
            snapshot_end_delay=cfg.snapshot_end_delay,
            delayed_minutes=cfg.delayed_minutes,
            requested_type=self.md_type,
            lenient=cfg.lenient,
        )
        line = MarketDataLine(
            req, sim.engine, sim.clock.now, self.send, lambda: self.connectivity_lost
        )
        task = self.spawn(line.run())
        self.lines[req_id] = task
        task.add_done_callback(functools.partial(self._line_done, req_id))

    def _line_done(self, req_id: int, task: asyncio.Task[None]) -> None:
        if self.lines.get(req_id) is task:
            self.lines.pop(req_id, None)
            self.sim.lines.release((self.number, req_id))
        if not task.cancelled() and task.exception() is not None:
            log.error("market data line %s failed: %r", req_id, task.exception())

    def _end_line(self, req_id: int) -> None:
        task = self.lines.pop(req_id, None)
        self.sim.lines.release((self.number, req_id))
        if task is not None:
            task.cancel()

    def on_cancel_mkt_data(self, fields: list[str]) -> None:
        self._end_line(self._id(fields))

    # -- historical data --------------------------------------------------------------
    def on_historical(self, fields: list[str]) -> None:
        f = fields + [""] * 23
        req_id = to_int(f[1])
        sim = self.sim
        sim.stats.historical_requests += 1
        query = ContractQuery.from_fields(f[2:14])
        now = sim.clock.now()
        found = sim.book.match(query, listing_date(now))
        if len(found) != 1:
            self.error(req_id, 200)
            return
        inst = found[0]
        key = (inst.con_id, f[15], f[16], f[17], f[18], f[19])
        try:
            bar_seconds = parse_bar_size(f[16])
        except HistoryError as exc:
            self.error(req_id, 321, f"Error validating request:{exc}")
            return
        reason = sim.hist_pacing.check(key, time.monotonic(), bar_seconds)
        if reason is None and sim.faults.pacing_error():
            reason = "injected fault"
        if reason is not None:
            self.error(
                req_id,
                162,
                "Historical Market Data Service error message:"
                f"Historical data request pacing violation ({reason})",
            )
            return
        if inst.sec_type == "CASH":
            self._fx_history(req_id, f, bar_seconds, now)
            return
        profile = sim.book.profile(inst.symbol)
        assert profile is not None
        try:
            req = HistRequest(
                parse_end(f[15], now), bar_seconds, f[17], f[19].upper(), to_int(f[20], 1)
            )
            bars = sim.bars.bars(inst, profile, req)
            start = edge_label(sessions_in(req.duration, req.end)[0].open) if bars else ""
        except HistoryError as exc:
            self._hmds_error(req_id, str(exc))
            return
        self._send_bars(req_id, start, edge_label(req.end), bars)

    def _fx_history(self, req_id: int, f: list[str], bar_seconds: int, now: datetime) -> None:
        try:
            end = parse_end(f[15], now)
            bars = fx.bars(
                self.sim.config.seed, end, f[17], bar_seconds, f[19].upper(), to_int(f[20], 1)
            )
        except HistoryError as exc:
            self._hmds_error(req_id, str(exc))
            return
        self._send_bars(req_id, bars[0][0] if bars else "", edge_label(end), bars)

    def _send_bars(self, req_id: int, start: str, end: str, bars: list[list]) -> None:
        if not bars:
            self._hmds_error(req_id, "HMDS query returned no data")
            return
        self.send(msg.historical_data(req_id, start, end, bars))

    def _hmds_error(self, req_id: int, text: str) -> None:
        self.error(req_id, 162, f"Historical Market Data Service error message:{text}")
