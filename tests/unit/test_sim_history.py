"""Historical request parsing and bar construction."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from collector.gateway_sim.contracts import ContractBook
from collector.gateway_sim.history import (
    BarBuilder,
    HistoryError,
    HistRequest,
    parse_bar_size,
    parse_end,
    sessions_in,
)
from collector.gateway_sim.market import UnderlyingModel
from collector.gateway_sim.profiles import KNOWN
from collector.gateway_sim.quotes import QuoteEngine
from shared.calendar import ET, UTC

NOW = datetime(2026, 11, 18, 11, 0, tzinfo=ET)


def test_parse_bar_size_and_end() -> None:
    assert parse_bar_size("1 day") == 86400 and parse_bar_size("8 hours") == 8 * 3600
    assert parse_bar_size("5 mins") == 300
    with pytest.raises(HistoryError):
        parse_bar_size("fortnight")
    assert parse_end("", NOW) == NOW
    assert parse_end("20261117 21:00:00 UTC", NOW) == datetime(2026, 11, 17, 21, tzinfo=UTC)
    assert parse_end("20261117-21:00:00", NOW) == datetime(2026, 11, 17, 21, tzinfo=UTC)
    assert parse_end("20261117 16:00:00 US/Eastern", NOW) == datetime(2026, 11, 17, 16, tzinfo=ET)


def test_sessions_in_counts_sessions_for_days() -> None:
    days = [s.trade_date for s in sessions_in("3 D", NOW)]
    assert days == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)]
    assert len(sessions_in("1 W", NOW)) == 5
    with pytest.raises(HistoryError):
        sessions_in("3 Q", NOW)


def _builder() -> tuple[BarBuilder, ContractBook, UnderlyingModel]:
    model = UnderlyingModel(7)
    return BarBuilder(model, QuoteEngine(model)), ContractBook(model), model


def test_daily_bars_match_the_model_closes() -> None:
    builder, book, model = _builder()
    aapl = book.underlying(KNOWN["AAPL"])
    bars = builder.bars(aapl, KNOWN["AAPL"], HistRequest(NOW, 86400, "1 M", "TRADES", 1))
    assert bars[-1][0] == "20261118"
    prior = bars[-2]
    assert prior[0] == "20261117" and prior[4] == model.close(KNOWN["AAPL"], date(2026, 11, 17))
    assert all(b[3] <= min(b[1], b[4]) and b[2] >= max(b[1], b[4]) for b in bars)
    assert all(isinstance(b[7], int) for b in bars)  # barCount must be integer text


def test_intraday_labels_and_option_bars() -> None:
    builder, book, _ = _builder()
    spy = KNOWN["SPY"]
    bars = builder.bars(book.underlying(spy), spy, HistRequest(NOW, 1800, "1 D", "MIDPOINT", 2))
    assert len(bars) == 3 and bars[0][0] == str(
        int(datetime(2026, 11, 18, 9, 30, tzinfo=ET).timestamp())
    )
    assert bars[0][5] == -1  # no volume for MIDPOINT
    chain = book.chain("SPY", date(2026, 11, 18))
    assert chain is not None
    expiry, strikes = chain.expiries[4]
    opt = book.option(chain, expiry, strikes[len(strikes) // 2], "P")
    obars = builder.bars(opt, spy, HistRequest(NOW, 3600, "1 D", "TRADES", 1))
    assert obars and obars[0][0].endswith("US/Eastern") and all(0 < b[4] < 100 for b in obars)


def test_second_durations_cover_only_their_window() -> None:
    builder, book, _ = _builder()
    aapl = KNOWN["AAPL"]
    end = datetime(2026, 11, 18, 11, 0, 0, tzinfo=ET)
    bars = builder.bars(book.underlying(aapl), aapl, HistRequest(end, 5, "30 S", "MIDPOINT", 2))
    assert len(bars) == 6
    first = datetime(2026, 11, 18, 10, 59, 30, tzinfo=ET)
    assert bars[0][0] == str(int(first.timestamp()))
    assert len({b[4] for b in bars}) > 1  # prices move within the minute
