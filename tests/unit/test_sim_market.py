"""The market model: determinism, sessions, volume growth, open interest by day."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime

from collector.gateway_sim.contracts import ContractBook
from collector.gateway_sim.market import UnderlyingModel, listing_date, market_time
from collector.gateway_sim.profiles import KNOWN, profile_for, stable_u64
from collector.gateway_sim.quotes import QuoteEngine
from shared.calendar import ET

AAPL = KNOWN["AAPL"]
WED_11 = datetime(2026, 11, 18, 11, 0, tzinfo=ET)

SNIPPET = """
from datetime import datetime
from collector.gateway_sim.market import UnderlyingModel, market_time
from collector.gateway_sim.profiles import KNOWN
from shared.calendar import ET
m = UnderlyingModel(7)
print(m.price(KNOWN["TSLA"], market_time(datetime(2026, 11, 18, 11, 0, 30, tzinfo=ET))))
"""


def test_same_seed_symbol_and_time_give_the_same_price_in_another_process() -> None:
    here = UnderlyingModel(7).price(
        KNOWN["TSLA"], market_time(datetime(2026, 11, 18, 11, 0, 30, tzinfo=ET))
    )
    other = subprocess.run(
        [sys.executable, "-c", SNIPPET], capture_output=True, text=True, check=True
    )
    assert float(other.stdout) == here


def test_stable_hash_does_not_depend_on_the_process_hash_seed() -> None:
    code = "from collector.gateway_sim.profiles import stable_u64; print(stable_u64('AAPL', 1))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outputs == {str(stable_u64("AAPL", 1))}
    assert stable_u64("AAPL", 1) != stable_u64("AAPL", 2)


def test_different_seeds_give_different_markets() -> None:
    when = market_time(WED_11)
    assert UnderlyingModel(7).price(AAPL, when) != UnderlyingModel(8).price(AAPL, when)


def test_market_time_open_frozen_weekend_and_early_close() -> None:
    live = market_time(WED_11)
    assert live.is_open and live.trade_date == date(2026, 11, 18) and live.at == WED_11
    after = market_time(datetime(2026, 11, 18, 18, 0, tzinfo=ET))
    assert not after.is_open and after.at.hour == 16 and after.trade_date == date(2026, 11, 18)
    before = market_time(datetime(2026, 11, 18, 8, 0, tzinfo=ET))
    assert not before.is_open and before.trade_date == date(2026, 11, 17)
    weekend = market_time(datetime(2026, 11, 22, 12, 0, tzinfo=ET))
    assert weekend.trade_date == date(2026, 11, 20)
    half = market_time(datetime(2026, 11, 27, 13, 30, tzinfo=ET))
    assert not half.is_open and half.at.hour == 13


def test_listing_date_is_today_or_the_next_session() -> None:
    assert listing_date(WED_11) == date(2026, 11, 18)
    assert listing_date(datetime(2026, 11, 21, 12, 0, tzinfo=ET)) == date(2026, 11, 23)


def test_session_path_runs_from_the_open_to_the_close() -> None:
    model = UnderlyingModel(7)
    path = model.minute_path(AAPL, date(2026, 11, 18))
    assert len(path) == 391
    assert round(float(path[0]), 2) == model.open(AAPL, date(2026, 11, 18))
    assert round(float(path[-1]), 2) == model.close(AAPL, date(2026, 11, 18))
    assert len(model.minute_path(AAPL, date(2026, 11, 27))) == 211  # half day


def test_prices_stay_plausible_over_years() -> None:
    model = UnderlyingModel(7)
    for symbol in ("AAPL", "VIX", "TSLA", "SPX"):
        profile = KNOWN[symbol]
        closes = [model.close(profile, date(y, 6, 15)) for y in range(2016, 2040)]
        assert all(0.2 * profile.base_price < c < 5 * profile.base_price for c in closes)


def _option(book: ContractBook, symbol: str, on: date):  # type: ignore[no-untyped-def]
    chain = book.chain(symbol, on)
    assert chain is not None
    expiry, strikes = chain.expiries[3]
    return book.option(chain, expiry, strikes[len(strikes) // 2], "C")


def test_option_volume_grows_through_the_session_and_oi_changes_daily() -> None:
    model = UnderlyingModel(7)
    book, engine = ContractBook(model), QuoteEngine(model)
    day = date(2026, 11, 18)
    opt = _option(book, "AAPL", day)
    profile = profile_for("AAPL")
    assert profile is not None
    times = [datetime(2026, 11, 18, h, m, tzinfo=ET) for h, m in ((9, 31), (11, 0), (15, 59))]
    quotes = [engine.quote(opt, profile, market_time(t)) for t in times]
    volumes = [q.volume for q in quotes]
    assert volumes == sorted(volumes) and volumes[0] < volumes[-1]
    assert len({q.open_interest for q in quotes}) == 1  # constant within a session
    next_day = engine.quote(opt, profile, market_time(datetime(2026, 11, 19, 11, tzinfo=ET)))
    assert next_day.open_interest != quotes[0].open_interest
    assert next_day.close > 0


def test_option_quote_is_consistent() -> None:
    model = UnderlyingModel(7)
    book, engine = ContractBook(model), QuoteEngine(model)
    opt = _option(book, "SPY", date(2026, 11, 18))
    profile = profile_for("SPY")
    assert profile is not None
    q = engine.quote(opt, profile, market_time(WED_11))
    assert q.greeks is not None
    assert 0 < q.bid <= q.greeks.price <= q.ask
    assert q.und_price == model.price(profile, market_time(WED_11))
    assert q.bid_size > 0 and q.ask_size > 0
