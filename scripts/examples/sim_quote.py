"""Print one option's bid/ask and model greeks from an IB Gateway (real or simulated).

    opt-data gateway-sim --port 4002          # terminal 1
    python scripts/examples/sim_quote.py      # terminal 2

A plain ib_async script: connect read-only, qualify the underlying, read the option chain
(reqSecDefOptParams), pick an at-the-money option that exists (reqContractDetails), stream
its market data until quotes and model greeks arrive, print them and disconnect.
"""

from __future__ import annotations

import argparse
import math
import sys

from ib_async import IB, Option, Stock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--client-id", type=int, default=201)
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--right", choices=("C", "P"), default="C")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for data")
    args = parser.parse_args(argv)

    ib = IB()
    try:
        ib.connect(args.host, args.port, clientId=args.client_id, readonly=True, timeout=10)
    except (OSError, TimeoutError) as exc:
        print(f"sim_quote: cannot connect to {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        return quote(ib, args.symbol.upper(), args.right, args.timeout)
    finally:
        ib.disconnect()


def quote(ib: IB, symbol: str, right: str, timeout: float) -> int:
    underlying = Stock(symbol, "SMART", "USD")
    if not ib.qualifyContracts(underlying):
        print(f"sim_quote: unknown symbol {symbol}", file=sys.stderr)
        return 1
    [spot] = ib.reqTickers(underlying)
    price = spot.marketPrice()
    chains = ib.reqSecDefOptParams(symbol, "", "STK", underlying.conId)
    smart = next((c for c in chains if c.exchange == "SMART"), None)
    if smart is None or len(smart.expirations) < 2:
        print(f"sim_quote: {symbol} has no listed options", file=sys.stderr)
        return 1
    expiry = sorted(smart.expirations)[1]
    # Not every (expiry, strike) pair of the union exists: ask for this expiry's strikes.
    details = ib.reqContractDetails(Option(symbol, expiry, 0.0, right, "SMART"))
    contracts = [d.contract for d in details if d.contract is not None]
    option = min(contracts, key=lambda c: abs(c.strike - price))
    # Type 2: live in a session, the last close's frozen quote outside it (type 1 would
    # get -1 for bid and ask while the market is closed, as on a real gateway).
    ib.reqMarketDataType(2)
    ticker = ib.reqMktData(option, "100,101")
    waited = 0.0
    while waited < timeout and (ticker.modelGreeks is None or math.isnan(ticker.bid)):
        ib.sleep(0.1)
        waited += 0.1
    ib.cancelMktData(option)
    greeks = ticker.modelGreeks
    if greeks is None or greeks.delta is None:
        print(
            f"sim_quote: no model greeks for {option.localSymbol} within {timeout} s",
            file=sys.stderr,
        )
        return 1
    print(
        f"{option.localSymbol}  underlying {symbol} {price:.2f}  "
        f"(market data type {ticker.marketDataType})"
    )
    print(
        f"bid {ticker.bid:.2f} x {ticker.bidSize:.0f}   ask {ticker.ask:.2f} x {ticker.askSize:.0f}"
    )
    print(
        f"iv {greeks.impliedVol:.4f}  delta {greeks.delta:.4f}  gamma {greeks.gamma:.5f}  "
        f"vega {greeks.vega:.4f}  theta {greeks.theta:.4f}  model {greeks.optPrice:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
