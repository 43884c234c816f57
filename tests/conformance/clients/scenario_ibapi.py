"""The conformance scenarios driven by IB's official client, ibapi 9.81.1.post1.

Run by tests/conformance with the client's own virtual environment:
    python scenario_ibapi.py OPEN_PORT CLOSED_PORT
ibapi announces server versions 100-157, so everything here travels in the v157
layouts. Prints one JSON object of observations, the same keys as scenario_insync.py.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import defaultdict

import ibapi
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.wrapper import EWrapper

RUNBOOK_TICKS = "100,101,104,105,106,165,221,225,233,293,294,295"
INFO = (2104, 2106, 2158)
NAN = math.nan


def contract(symbol: str, sec_type: str, exchange: str = "SMART", **extra: object) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, sec_type, exchange, "USD"
    for key, value in extra.items():
        setattr(c, key, value)
    return c


class App(EWrapper, EClient):
    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.lock = threading.Lock()
        self.next_id = 0
        self.errors: list[tuple[int, int]] = []
        self.time: int | None = None
        self.details: dict[int, list] = defaultdict(list)
        self.done: set[int] = set()
        self.secdef: dict[int, list] = defaultdict(list)
        self.prices: dict[int, dict[int, float]] = defaultdict(dict)
        self.sizes: dict[int, dict[int, int]] = defaultdict(dict)
        self.generic: dict[int, dict[int, float]] = defaultdict(dict)
        self.greeks: dict[int, dict[int, tuple]] = defaultdict(dict)
        self.md_type: dict[int, int] = {}
        self.updates: dict[int, int] = defaultdict(int)
        self.bars: dict[int, list] = defaultdict(list)

    # -- callbacks (the reader thread) -------------------------------------------------
    def nextValidId(self, orderId: int) -> None:
        self.next_id = orderId

    def error(self, reqId: int, errorCode: int, errorString: str) -> None:
        if errorCode not in INFO:
            self.errors.append((reqId, errorCode))
        if reqId >= 0:
            self.done.add(reqId)

    def currentTime(self, time: int) -> None:
        self.time = time

    def contractDetails(self, reqId: int, contractDetails) -> None:
        self.details[reqId].append(contractDetails)

    def contractDetailsEnd(self, reqId: int) -> None:
        self.done.add(reqId)

    def securityDefinitionOptionParameter(
        self, reqId, exchange, underlyingConId, tradingClass, multiplier, expirations, strikes
    ) -> None:
        self.secdef[reqId].append((exchange, tradingClass, sorted(expirations), sorted(strikes)))

    def securityDefinitionOptionParameterEnd(self, reqId: int) -> None:
        self.done.add(reqId)

    def tickPrice(self, reqId, tickType, price, attrib) -> None:
        self.prices[reqId][tickType] = price
        self.updates[reqId] += 1

    def tickSize(self, reqId, tickType, size) -> None:
        self.sizes[reqId][tickType] = size
        self.updates[reqId] += 1

    def tickGeneric(self, reqId, tickType, value) -> None:
        self.generic[reqId][tickType] = value

    def tickOptionComputation(
        self,
        reqId,
        tickType,
        tickAttrib,
        impliedVol,
        delta,
        optPrice,
        pvDividend,
        gamma,
        vega,
        theta,
        undPrice,
    ) -> None:
        self.greeks[reqId][tickType] = (impliedVol, delta, optPrice, gamma, vega, theta)
        self.updates[reqId] += 1

    def tickSnapshotEnd(self, reqId: int) -> None:
        self.done.add(reqId)

    def marketDataType(self, reqId: int, marketDataType: int) -> None:
        self.md_type[reqId] = marketDataType

    def historicalData(self, reqId: int, bar) -> None:
        self.bars[reqId].append(bar)

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self.done.add(reqId)

    # -- driving ---------------------------------------------------------------------
    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def codes(self) -> list[int]:
        return [code for _, code in self.errors]


def wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def connect(port: int, client_id: int) -> tuple[App, threading.Thread]:
    app = App()
    app.connect("127.0.0.1", port, client_id)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    assert wait(lambda: app.next_id > 0, 10), "no nextValidId"
    return app, thread


def request(app: App, send) -> int:  # type: ignore[no-untyped-def]
    req_id = app.new_id()
    send(req_id)
    assert wait(lambda: req_id in app.done, 10), f"request {req_id} never ended"
    return req_id


def main(open_port: int, closed_port: int) -> dict:
    out: dict = {"client": f"ibapi {ibapi.get_version_string()}"}
    app, thread = connect(open_port, 61)
    out["server_version"] = app.serverVersion()
    app.reqCurrentTime()
    wait(lambda: app.time is not None)
    out["current_time"] = app.time

    stk = request(app, lambda r: app.reqContractDetails(r, contract("AAPL", "STK")))
    [aapl] = app.details[stk]
    out["stk"] = {
        "conId": aapl.contract.conId,
        "timeZoneId": aapl.timeZoneId,
        "liquidHours": aapl.liquidHours.split(";")[0],
        "stockType": aapl.stockType,
    }
    ind = request(app, lambda r: app.reqContractDetails(r, contract("SPX", "IND", "CBOE")))
    [spx] = app.details[ind]
    out["ind"] = {"conId": spx.contract.conId, "timeZoneId": spx.timeZoneId}

    sd = request(app, lambda r: app.reqSecDefOptParams(r, "AAPL", "", "STK", aapl.contract.conId))
    out["secdef"] = {"exchanges": sorted({row[0] for row in app.secdef[sd]})}
    _, _, expiries, union = next(row for row in app.secdef[sd] if row[0] == "SMART")
    far = expiries[-1]
    fr = request(
        app,
        lambda r: app.reqContractDetails(
            r, contract("AAPL", "OPT", lastTradeDateOrContractMonth=far, right="C")
        ),
    )
    listed = {d.contract.strike for d in app.details[fr]}
    missing = [s for s in union if s not in listed]
    app.errors.clear()
    tr = request(
        app,
        lambda r: app.reqContractDetails(
            r,
            contract(
                "AAPL",
                "OPT",
                lastTradeDateOrContractMonth=far,
                right="C",
                strike=missing[len(missing) // 2],
            ),
        ),
    )
    out["union_trap"] = {"rows": len(app.details[tr]), "codes": app.codes()}

    nr = request(
        app,
        lambda r: app.reqContractDetails(
            r, contract("AAPL", "OPT", lastTradeDateOrContractMonth=expiries[1], right="C")
        ),
    )
    near = [d.contract for d in app.details[nr]]
    opt = near[len(near) // 2]
    out["opt"] = {"rows": len(near), "multiplier": opt.multiplier, "secType": opt.secType}

    app.errors.clear()
    o = app.new_id()
    app.reqMktData(o, opt, RUNBOOK_TICKS, False, False, [])
    wait(lambda: 13 in app.greeks[o] and 27 in app.sizes[o] and 12 in app.greeks[o])
    p, g = app.prices[o], app.greeks[o]
    out["stream_opt"] = {
        "md_type": app.md_type.get(o),
        "quoted": 0 < p.get(1, NAN) < p.get(2, NAN),
        "delta": 13 in g and 0 < g[13][1] < 1,
        "open_interest": app.sizes[o].get(27, 0) > 0,
        "last_greeks": 12 in g,
        "range": p.get(6, 0) >= p.get(7, 0) > 0,
        "iv_24_absent": 24 not in app.generic[o],
    }
    s = app.new_id()
    app.reqMktData(s, aapl.contract, RUNBOOK_TICKS, False, False, [])
    wait(
        lambda: {23, 24, 54}.issubset(app.generic[s]) and 87 in app.sizes[s] and 19 in app.prices[s]
    )
    sp, ss, sg = app.prices[s], app.sizes[s], app.generic[s]
    out["stream_stk"] = {
        "md_type": app.md_type.get(s),
        "iv_24": 0 < sg.get(24, 0) < 2,
        "hv_23": 0 < sg.get(23, 0) < 2,
        "avg_option_volume_87": ss.get(87, 0) > 0,
        "mark_37": sp.get(37, 0) > 0,
        "trade_count_54": sg.get(54, 0) > 0,
        "week52_range": 0 < sp.get(19, 0) < sp.get(20, 0),
        "option_oi_27_28": ss.get(27, 0) > 0 and ss.get(28, 0) > 0,
        "auction_35": sp.get(35, 0) > 0,
    }
    app.cancelMktData(o)
    app.cancelMktData(s)
    time.sleep(0.1)
    before = app.updates[o]
    time.sleep(0.5)
    out["cancel"] = {"updates_after": app.updates[o] - before, "codes": app.codes()}

    start = time.monotonic()
    snap = request(app, lambda r: app.reqMktData(r, opt, "", True, False, []))
    out["snapshot"] = {
        "seconds": round(time.monotonic() - start, 2),
        "quoted": app.prices[snap].get(1, 0) > 0,
        "greeks": 13 in app.greeks[snap],
    }
    app.errors.clear()
    request(app, lambda r: app.reqMktData(r, opt, "101", True, False, []))
    out["snapshot_generic"] = {"codes": app.codes()}

    tsla = contract("TSLA", "STK")
    app.errors.clear()
    app.reqMarketDataType(1)
    request(app, lambda r: app.reqMktData(r, tsla, "", False, False, []))
    out["no_permission_live"] = {"codes": app.codes()}
    app.errors.clear()
    app.reqMarketDataType(3)
    d = app.new_id()
    app.reqMktData(d, tsla, "", False, False, [])
    wait(lambda: app.prices[d].get(66, 0) > 0 and app.md_type.get(d) == 3)
    out["no_permission_delayed"] = {
        "md_type": app.md_type.get(d),
        "codes": app.codes(),
        "tick_ids": sorted(set(app.prices[d]) & {66, 67, 68}),
    }
    app.cancelMktData(d)
    app.reqMarketDataType(1)

    h = request(
        app,
        lambda r: app.reqHistoricalData(
            r, aapl.contract, "", "1 D", "1 hour", "TRADES", 1, 1, False, []
        ),
    )
    labels = [b.date.split()[1][:5] for b in app.bars[h]]
    out["hist"] = {
        "bars": len(labels),
        "first": labels[0] if labels else "",
        "second": labels[1] if len(labels) > 1 else "",
    }

    app.errors.clear()
    for _ in range(60):  # ibapi has no throttle of its own
        app.reqCurrentTime()
    wait(lambda: 100 in app.codes(), 2)
    out["rate_100"] = {"codes": sorted(set(app.codes())), "connected": app.isConnected()}
    time.sleep(1.1)  # let the bucket refill before the next burst

    app.errors.clear()
    ids = []
    for c in near[:7]:
        ids.append(app.new_id())
        app.reqMktData(ids[-1], c, "", False, False, [])
    wait(lambda: 101 in app.codes(), 2)
    out["lines_101"] = {"codes": sorted(set(app.codes()))}
    for i in ids:
        app.cancelMktData(i)
    app.disconnect()
    thread.join(5)

    app, thread = connect(closed_port, 62)
    live = app.new_id()
    app.reqMktData(live, contract("AAPL", "STK"), "", False, False, [])
    wait(lambda: app.prices[live].get(4, 0) > 0 and 1 in app.prices[live])
    out["closed_type1"] = {
        "md_type": app.md_type.get(live),
        "bid": app.prices[live].get(1),
        "ask": app.prices[live].get(2),
    }
    app.cancelMktData(live)
    app.reqMarketDataType(2)
    frozen = app.new_id()
    app.reqMktData(frozen, contract("AAPL", "STK"), "", False, False, [])
    wait(lambda: app.prices[frozen].get(1, 0) > 0 and app.md_type.get(frozen) == 2)
    out["closed_type2"] = {
        "md_type": app.md_type.get(frozen),
        "quoted": app.prices[frozen].get(1, 0) > 0,
    }
    app.cancelMktData(frozen)
    app.reqMarketDataType(4)
    df = app.new_id()
    app.reqMktData(df, contract("TSLA", "STK"), "", False, False, [])
    wait(lambda: app.prices[df].get(66, 0) > 0 and app.md_type.get(df) == 4)
    out["closed_type4"] = {"md_type": app.md_type.get(df), "quoted": app.prices[df].get(66, 0) > 0}
    app.disconnect()
    thread.join(5)
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))
