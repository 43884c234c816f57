"""get_vol_surface: the standardized surface of one stored snapshot.

IV at fixed call-equivalent deltas (10, 25, 50, 75, 90 by default; 0.75 is the 25-delta
put) by fixed tenors, each point flagged exact / interpolated / extrapolated /
not_reached, plus the per-expiry points it was built from. Methods: shared.analytics.
"""

from __future__ import annotations

from typing import Any

from shared.analytics.snapshot import SURFACE_DELTAS, SURFACE_TENORS, standard_surface
from shared.queries.context import ServerContext
from shared.queries.frames import (
    one_row_per_contract,
    partition_info,
    read_partition,
    repeated_rows_note,
    resolve_partition,
)
from shared.queries.limits import Meta
from shared.queries.paths import QueryError
from shared.queries.snapshots import COLUMNS
from shared.queries.timeseries import check_tenors, round6


def check_deltas(deltas: list[float] | None) -> tuple[float, ...]:
    if not deltas:
        return SURFACE_DELTAS
    out = tuple(sorted({round(float(d) / 100 if d >= 1 else float(d), 4) for d in deltas}))
    if len(out) > 11 or out[0] <= 0 or out[-1] >= 1:
        raise QueryError(
            "deltas must be 1-11 call-equivalent deltas strictly between 0 and 1 (or 1-99)"
        )
    return out


def vol_surface(
    ctx: ServerContext,
    symbol: str,
    day: str | None = None,
    view: str = "daily_clean",
    slot: str | None = None,
    deltas: list[float] | None = None,
    tenors: list[int] | None = None,
    extrapolate: bool = True,
) -> dict[str, Any]:
    meta = Meta()
    want_deltas = check_deltas(deltas)
    want_tenors = check_tenors(tenors, SURFACE_TENORS)
    part = resolve_partition(ctx, symbol, day, view, slot, meta)
    frame, repeated = one_row_per_contract(read_partition(ctx, part, COLUMNS, meta))
    if repeated:
        meta.notes.append(repeated_rows_note(repeated))
    surface = standard_surface(frame, part.trade_date, want_deltas, want_tenors, extrapolate)
    meta.notes.extend(surface.pop("notes"))
    meta.rows = len(want_tenors) * len(want_deltas)
    meta.extra["file_rows"] = frame.height
    surface["iv"] = [[round6(v) for v in row] for row in surface["iv"]]
    by = surface["by_expiry"]
    names = list(by)
    surface["by_expiry"] = {
        "columns": names,
        "rows": [[round6(by[k][i]) for k in names] for i in range(len(by["expiry"]))],
    }
    surface["spot"] = round6(surface.get("spot"))  # 6 decimals, as every other reply
    return {"partition": partition_info(part), **surface, "meta": meta.as_dict()}
