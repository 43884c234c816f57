"""The conformance scenarios driven by ib_async or ib_insync (the same API).

Run by tests/conformance with the client's own virtual environment:
    python scenario_insync.py ib_async OPEN_PORT CLOSED_PORT
Prints one JSON object of observations on stdout; the test holds every client to the
same expectations. Imports nothing of this project: only the client library under test.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time

RUNBOOK_TICKS = "100,101,104,105,106,165,221,225,233,293,294,295"


def main(lib_name: str, open_port: int, closed_port: int) -> dict:
    lib = importlib.import_module(lib_name)
    IB, Stock, Index, Option = lib.IB, lib.Stock, lib.Index, lib.Option
    out: dict = {"client": f"{lib_name} {lib.__version__}"}
    errors: list[tuple[int, int]] = []
    ib = IB()
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))

    def codes() -> list[int]:
        return [code for _, code in errors if code not in (2104, 2106, 2158)]

    def wait(predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            ib.sleep(0.02)
        return True

    ib.connect("127.0.0.1", open_port, clientId=51, readonly=True, timeout=10)
    out["server_version"] = ib.client.serverVersion()
    out["current_time"] = int(ib.reqCurrentTime().timestamp())

    [aapl] = ib.reqContractDetails(Stock("AAPL", "SMART", "USD"))
    out["stk"] = {
        "conId": aapl.contract.conId,
        "timeZoneId": aapl.timeZoneId,
        "liquidHours": aapl.liquidHours.split(";")[0],
        "stockType": aapl.stockType,
    }
    [spx] = ib.reqContractDetails(Index("SPX", "CBOE", "USD"))
    out["ind"] = {"conId": spx.contract.conId, "timeZoneId": spx.timeZoneId}

    chains = ib.reqSecDefOptParams("AAPL", "", "STK", aapl.contract.conId)
    out["secdef"] = {"exchanges": sorted({c.exchange for c in chains})}
    chain = next(c for c in chains if c.exchange == "SMART")
    expiries, union = sorted(chain.expirations), sorted(chain.strikes)
    far = expiries[-1]
    listed = {
        d.contract.strike for d in ib.reqContractDetails(Option("AAPL", far, 0.0, "C", "SMART"))
    }
    missing = [s for s in union if s not in listed]
    errors.clear()
    trap = ib.reqContractDetails(Option("AAPL", far, missing[len(missing) // 2], "C", "SMART"))
    out["union_trap"] = {"rows": len(trap), "codes": codes()}

    near = ib.reqContractDetails(Option("AAPL", expiries[1], 0.0, "C", "SMART"))
    opt = near[len(near) // 2].contract
    out["opt"] = {"rows": len(near), "multiplier": opt.multiplier, "secType": opt.secType}

    errors.clear()
    t = ib.reqMktData(opt, RUNBOOK_TICKS)
    wait(
        lambda: (
            t.modelGreeks is not None
            and not math.isnan(t.callOpenInterest)
            and t.lastGreeks is not None
        )
    )
    out["stream_opt"] = {
        "md_type": t.marketDataType,
        "quoted": 0 < t.bid < t.ask,
        "delta": t.modelGreeks is not None and 0 < t.modelGreeks.delta < 1,
        "open_interest": t.callOpenInterest > 0,
        "last_greeks": t.lastGreeks is not None,
        "range": t.high >= t.low > 0,
        "iv_24_absent": math.isnan(t.impliedVolatility),
    }
    s = ib.reqMktData(aapl.contract, RUNBOOK_TICKS)
    wait(
        lambda: (
            not math.isnan(s.impliedVolatility)
            and not math.isnan(s.tradeCount)
            and not math.isnan(s.avOptionVolume)
            and not math.isnan(s.low52week)
        )
    )
    out["stream_stk"] = {
        "md_type": s.marketDataType,
        "iv_24": 0 < s.impliedVolatility < 2,
        "hv_23": 0 < s.histVolatility < 2,
        "avg_option_volume_87": s.avOptionVolume > 0,
        "mark_37": s.markPrice > 0,
        "trade_count_54": s.tradeCount > 0,
        "week52_range": 0 < s.low52week < s.high52week,
        "option_oi_27_28": s.callOpenInterest > 0 and s.putOpenInterest > 0,
        "auction_35": s.auctionPrice > 0,
    }
    updates: list[int] = [0]
    t.updateEvent += lambda _: updates.__setitem__(0, updates[0] + 1)
    ib.cancelMktData(opt)
    ib.cancelMktData(aapl.contract)
    ib.sleep(0.5)
    out["cancel"] = {"updates_after": updates[0], "codes": codes()}

    start = time.monotonic()
    [snap] = ib.reqTickers(opt)
    out["snapshot"] = {
        "seconds": round(time.monotonic() - start, 2),
        "quoted": snap.bid > 0,
        "greeks": snap.modelGreeks is not None,
    }
    errors.clear()
    ib.reqMktData(opt, "101", snapshot=True)
    wait(lambda: 321 in codes(), 2)
    out["snapshot_generic"] = {"codes": codes()}

    tsla = Stock("TSLA", "SMART", "USD")
    ib.qualifyContracts(tsla)
    errors.clear()
    ib.reqMarketDataType(1)
    ib.reqMktData(tsla)
    wait(lambda: 354 in codes(), 2)
    out["no_permission_live"] = {"codes": codes()}
    ib.cancelMktData(tsla)
    errors.clear()
    ib.reqMarketDataType(3)
    d = ib.reqMktData(tsla)
    tick_ids: set[int] = set()  # a ticker's .ticks holds only the latest batch: collect
    d.updateEvent += lambda t: tick_ids.update(tick.tickType for tick in t.ticks)
    wait(lambda: d.bid > 0 and d.marketDataType == 3 and {66, 67, 68} <= tick_ids)
    out["no_permission_delayed"] = {
        "md_type": d.marketDataType,
        "codes": codes(),
        "tick_ids": sorted(tick_ids & {66, 67, 68}),
    }
    ib.cancelMktData(tsla)
    ib.reqMarketDataType(1)

    bars = ib.reqHistoricalData(aapl.contract, "", "1 D", "1 hour", "TRADES", True, 1)
    out["hist"] = {
        "bars": len(bars),
        "first": bars[0].date.strftime("%H:%M") if bars else "",
        "second": bars[1].date.strftime("%H:%M") if len(bars) > 1 else "",
    }

    errors.clear()
    ib.client.MaxRequests = 0  # switch off the client's own throttle
    for _ in range(60):
        ib.client.reqCurrentTime()
    wait(lambda: 100 in codes(), 2)
    out["rate_100"] = {"codes": sorted(set(codes())), "connected": ib.isConnected()}
    ib.client.MaxRequests = 45

    errors.clear()
    lines = [d.contract for d in near[:7]]
    for c in lines:
        ib.reqMktData(c)
    wait(lambda: 101 in codes(), 2)
    out["lines_101"] = {"codes": sorted(set(codes()))}
    for c in lines:
        ib.cancelMktData(c)
    ib.disconnect()

    ib.connect("127.0.0.1", closed_port, clientId=52, readonly=True, timeout=10)
    closed = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(closed)
    live = ib.reqMktData(closed)
    wait(lambda: live.last > 0 and live.bid == -1)
    out["closed_type1"] = {"md_type": live.marketDataType, "bid": live.bid, "ask": live.ask}
    ib.cancelMktData(closed)
    ib.reqMarketDataType(2)
    frozen = ib.reqMktData(closed)
    wait(lambda: frozen.bid > 0 and frozen.marketDataType == 2)
    out["closed_type2"] = {"md_type": frozen.marketDataType, "quoted": frozen.bid > 0}
    ib.cancelMktData(closed)
    ib.reqMarketDataType(4)
    tsla = Stock("TSLA", "SMART", "USD")
    ib.qualifyContracts(tsla)
    df = ib.reqMktData(tsla)
    wait(lambda: df.bid > 0 and df.marketDataType == 4)
    out["closed_type4"] = {"md_type": df.marketDataType, "quoted": df.bid > 0}
    ib.disconnect()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
