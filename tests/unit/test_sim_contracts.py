"""Option conIds, symbol rules and loose request matching."""

from __future__ import annotations

from datetime import date

import pytest

from collector.gateway_sim.contracts import (
    ContractBook,
    ContractQuery,
    decode_option_con_id,
    option_con_id,
)
from collector.gateway_sim.market import UnderlyingModel
from collector.gateway_sim.profiles import derived_con_id, is_unknown, profile_for

ON = date(2026, 11, 18)


def q(*fields: str) -> ContractQuery:
    return ContractQuery.from_fields(list(fields))


@pytest.fixture(scope="module")
def book() -> ContractBook:
    return ContractBook(UnderlyingModel(7), unknown_symbols=("BADCO",))


def test_option_con_ids_round_trip_and_stay_below_2_53() -> None:
    cid = option_con_id("SPXW", date(2026, 12, 18), 5925.0, "P")
    assert cid < 2**53
    _, day, strike, right = decode_option_con_id(cid)
    assert (day, strike, right) == (date(2026, 12, 18), 5925.0, "P")


def test_option_con_ids_are_unique_across_a_chain(book: ContractBook) -> None:
    ids = set()
    total = 0
    for symbol in ("SPX", "AAPL", "SPY"):
        chain = book.chain(symbol, ON)
        assert chain is not None
        for expiry, strikes in chain.expiries:
            for k in strikes:
                for right in "CP":
                    ids.add(book.option(chain, expiry, k, right).con_id)
                    total += 1
    assert len(ids) == total > 10_000


def test_symbol_rules() -> None:
    assert profile_for("AAPL") is not None and profile_for("AAPL").con_id == 265598  # type: ignore[union-attr]
    assert is_unknown("ZZAB") and is_unknown("bad sym") and is_unknown("X", ("X",))
    assert derived_con_id("FOO") == derived_con_id("FOO") != derived_con_id("BAR")


def test_stock_index_and_unknown_matching(book: ContractBook) -> None:
    [aapl] = book.match(q("0", "AAPL", "STK", "", "0", "", "", "SMART", "", "USD"), ON)
    assert aapl.con_id == 265598 and aapl.trading_class == "NMS"
    [spx] = book.match(q("0", "SPX", "IND", "", "0", "", "", "CBOE"), ON)
    assert spx.con_id == 416904
    assert book.match(q("0", "SPX", "STK", "", "0", "", "", "SMART"), ON) == []
    assert book.match(q("0", "BADCO", "STK", "", "0", "", "", "SMART"), ON) == []
    assert book.match(q("0", "AAPL", "STK", "", "0", "", "", "SMART", "", "EUR"), ON) == []
    assert book.match(q("265598"), ON) == [aapl]  # by conId alone


def test_loose_option_matching(book: ContractBook) -> None:
    chain = book.chain("AAPL", ON)
    assert chain is not None
    expiry, strikes = chain.expiries[2]
    k = strikes[len(strikes) // 2]
    exact = book.match(q("0", "AAPL", "OPT", expiry.text, str(k), "C", "100", "SMART"), ON)
    assert len(exact) == 1
    loose = book.match(q("0", "AAPL", "OPT", expiry.text, str(k), "CALL", "", "", "", ""), ON)
    assert [i.con_id for i in loose] == [exact[0].con_id]
    month = book.match(q("0", "AAPL", "OPT", expiry.text[:6], str(k), "P"), ON)
    assert len(month) >= 1 and all(
        i.right == "P" and i.expiry[:6] == expiry.text[:6] for i in month
    )
    routed = book.match(q("0", "AAPL", "OPT", expiry.text, str(k), "C", "", "CBOE"), ON)
    assert routed[0].exchange == "CBOE" and routed[0].con_id == exact[0].con_id
    by_local = book.match(
        q("0", "AAPL", "OPT", "", "0", "", "", "", "", "", exact[0].local_symbol), ON
    )
    assert [i.con_id for i in by_local] == [exact[0].con_id]
    assert book.match(q(str(exact[0].con_id)), ON) == exact


def test_a_pair_outside_the_expiry_grid_does_not_exist(book: ContractBook) -> None:
    [row] = [r for r in book.secdef("AAPL", "STK", 265598, ON) if r[0] == "SMART"]
    union = set(row[4])
    chain = book.chain("AAPL", ON)
    assert chain is not None
    far, far_strikes = chain.expiries[-1]
    missing = sorted(union - set(far_strikes))[0]
    assert book.match(q("0", "AAPL", "OPT", far.text, str(missing), "C"), ON) == []


def test_secdef_rules(book: ContractBook) -> None:
    assert book.secdef("NOOPT", "STK", 0, ON) == []
    assert book.secdef("AAPL", "STK", 1, ON) == []  # wrong underlying conId
    assert {r[2] for r in book.secdef("SPX", "IND", 416904, ON)} == {"SPX", "SPXW"}


def test_a_generated_option_conid_resolves_in_a_fresh_process(book: ContractBook) -> None:
    chain = book.chain("QWERTY", ON)
    assert chain is not None
    expiry, strikes = chain.expiries[1]
    inst = book.option(chain, expiry, strikes[0], "P")
    fresh = ContractBook(UnderlyingModel(7))  # e.g. a restarted gateway, conId from a cache
    assert fresh.match(q(str(inst.con_id)), ON) == []  # the symbol is not known yet
    found = fresh.match(q(str(inst.con_id), "QWERTY", "OPT"), ON)
    assert [i.local_symbol for i in found] == [inst.local_symbol]
