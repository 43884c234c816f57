"""Coverage per shard: when collectors split the universe (`--shard i/N`), health and
partition issues report each shard's share and name a shard that delivered nothing.

The count is the configured [shard] count or, if wider, the split the ledger's runs show
(shared.universe.shard_count); symbols go to shards by the collectors' own hash rule.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from shared.queries.context import ServerContext
from shared.queries.frames import ratio
from shared.universe import all_shards, shard_count


def shards_of_day(ctx: ServerContext, day: date) -> int:
    return shard_count(ctx.cfg.shard.count, ctx.ledger.shards_seen(day))


def by_shard(
    count: int, symbols: Iterable[str], due: Collection[str], written: Collection[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Per shard: partitions expected (its symbols x due slots), written, coverage; [] unsharded."""
    if count <= 1:
        return []
    out = []
    for shard in all_shards(count):
        mine = [s for s in symbols if shard.holds(s)]
        expected = len(mine) * len(due)
        got = sum(1 for s in mine for slot in due if (s, slot) in written)
        out.append(
            {
                "shard": shard.label,
                "symbols": len(mine),
                "expected_partitions": expected,
                "written": got,
                "coverage": ratio(got, expected) if expected else None,
            }
        )
    return out


def missing(shards: list[dict[str, Any]]) -> list[str]:
    """Shards with partitions due and none written."""
    return [s["shard"] for s in shards if s["expected_partitions"] and not s["written"]]


def streaming_coverage(
    count: int, symbols: Sequence[str], due: bool, rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Which of streaming.underlyings wrote parts on a day (`rows`: the day's partitions rows
    of the streaming view), per shard when split; a shard that streamed none of its own
    underlyings while streaming was due is named. Health and QA both report this."""
    rows = list(rows)
    streamed = {str(r["underlying"]) for r in rows} & set(symbols)
    shards = by_shard(count, symbols, [""] if due else [], {(s, "") for s in streamed})
    return {
        **({"shards": shards, "missing_shards": missing(shards)} if shards else {}),
        "due": due,
        "underlyings": len(symbols),
        "streamed": len(streamed),
        "coverage": ratio(len(streamed), len(symbols)) if due else None,
        "rows": sum(int(r.get("rows") or 0) for r in rows),
    }
