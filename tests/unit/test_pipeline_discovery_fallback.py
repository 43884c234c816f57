"""Contract-cache rules of a bad-symbol day: the stale fallback and the midday refresh
(pure parts; the simulator runs are in tests/integration/test_ops_faults.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from collector.ib.types import OptionContract, UnderlyingRef
from collector.pipeline.discovery import ContractCache, load_cache, save_cache
from collector.pipeline.snapshot_plan import (
    add_new_contracts,
    discovery_problems,
    is_midday_slot,
    latest_earlier_cache,
)
from shared.config import load_config
from shared.storage import Layout
from tests.support.config import tmp_config

DAY = date(2026, 11, 18)


def option(conid: int, expiry: date, strike: float) -> OptionContract:
    return OptionContract(conid, "AAPL", expiry, strike, "C", 100, "SMART", "USD", "", "AAPL")


def cache(day: date, *contracts: OptionContract) -> ContractCache:
    ref = UnderlyingRef("AAPL", 265598, "STK", "SMART", "USD")
    return ContractCache("AAPL", day, ref, 190.0, tuple(contracts))


def test_midday_refresh_only_adds_and_keeps_the_existing_contracts() -> None:
    morning = cache(DAY, option(1, date(2026, 11, 20), 190), option(2, date(2026, 11, 20), 195))
    listed = cache(DAY, option(2, date(2026, 11, 20), 195), option(3, date(2026, 11, 20), 200))
    merged, added = add_new_contracts(morning, listed)
    assert added == 1 and [c.conid for c in merged.contracts] == [1, 2, 3]
    assert merged.contracts[:2] == morning.contracts  # untouched
    same, none = add_new_contracts(morning, morning)
    assert none == 0 and same is morning


def test_the_midday_slot_is_the_first_from_noon() -> None:
    slots = ["09:30", "11:30", "12:00", "12:30"]
    assert is_midday_slot(slots, "12:00") and not is_midday_slot(slots, "12:30")
    assert is_midday_slot(["09:30", "12:15", "12:45"], "12:15")
    assert not is_midday_slot(["09:30", "11:30"], "11:30")


def test_latest_earlier_cache_skips_expired_contracts_and_corrupt_files(tmp_path: Path) -> None:
    layout = Layout.from_config(load_config(tmp_config(tmp_path), env={}))
    save_cache(layout, cache(date(2026, 11, 13), option(1, date(2026, 12, 18), 190)))
    save_cache(
        layout,
        cache(
            date(2026, 11, 16), option(4, date(2026, 11, 17), 190), option(5, date(2026, 11, 20), 1)
        ),
    )
    layout.contract_cache_file("AAPL", date(2026, 11, 17)).write_text("{not json")
    save_cache(layout, cache(date(2026, 11, 19), option(9, date(2026, 12, 18), 190)))  # later
    stale = latest_earlier_cache(layout, "AAPL", DAY)
    assert stale is not None and stale.stale_from == date(2026, 11, 16)
    assert [c.conid for c in stale.contracts] == [5]  # expired the day before: dropped
    save_cache(layout, stale)  # saved as the day's cache, it stays flagged stale
    assert load_cache(layout, "AAPL", DAY).stale_from == date(2026, 11, 16)
    assert latest_earlier_cache(layout, "MSFT", DAY) is None


def test_discovery_problems_lists_stale_and_failed_symbols() -> None:
    status = {"AAPL": "ok", "ACME": "stale (cache of 2026-11-17; ...)", "ZZ": "failed: unknown"}
    assert sorted(discovery_problems(status)) == ["ACME", "ZZ"]
