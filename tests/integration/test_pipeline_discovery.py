"""Discovery lists each (expiry, right) with the strike open: real contracts, no error 200.

The simulator returns the union of strikes from reqSecDefOptParams, as IB does, so
qualifying the union pairs draws error 200 for the pairs an expiry does not list. The
listing asks IB which contracts exist instead.
"""

from __future__ import annotations

from pathlib import Path

from collector.ib import IBSession
from collector.pipeline.discovery import discover_symbol
from shared.universe import read_universe
from tests.support.pipeline import SIM_DAY, running_sim, sim_config, write_config


async def test_listing_finds_real_contracts_without_error_200(tmp_path: Path) -> None:
    async with running_sim(sim_config()) as sim:
        cfg = write_config(tmp_path, sim.port, ["SPX"], monthlies=9)
        entries = {e.symbol: e for e in read_universe(cfg.universe.file)}
        async with IBSession(cfg.ib) as session:
            before = dict(sim.stats.errors_sent)
            # wide enough that the union of strikes reaches pairs some expiries lack
            listed = {
                s: await discover_symbol(session, cfg, entries[s], SIM_DAY, strikes_per_side=12)
                for s in entries
            }
            after_listing = dict(sim.stats.errors_sent)
            union = await discover_symbol(
                session, cfg, entries["SPX"], SIM_DAY, strikes_per_side=12, listing=False
            )
            after_union = dict(sim.stats.errors_sent)
    assert after_listing.get(200, 0) == before.get(200, 0)  # no union trap
    for cache in listed.values():
        assert cache.dropped_unqualified == 0 and cache.contracts
        assert all(c.conid > 0 for c in cache.contracts)
        per_expiry: dict[object, set[str]] = {}
        for c in cache.contracts:
            per_expiry.setdefault(c.expiry, set()).add(c.right)
        assert all(rights == {"C", "P"} for rights in per_expiry.values())
    # the union pairs the simulator does not list are what the old way paid error 200 for
    assert union.dropped_unqualified > 0
    assert after_union.get(200, 0) - after_listing.get(200, 0) == union.dropped_unqualified
