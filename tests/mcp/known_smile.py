"""An exact smile whose 25-delta points and constant-maturity IVs can be worked out by hand.

Spot is 100 on every row. Each expiry has the strikes of DELTAS with these call deltas
(put delta = call delta - 1), and one IV per strike (call and put alike):

    iv(delta) = atm + SLOPE_PUT  * (delta - 0.5)   for call-equivalent delta >= 0.5
    iv(delta) = atm + SLOPE_CALL * (delta - 0.5)   for call-equivalent delta <  0.5

piecewise linear with its kink on a stored strike (K = 100, delta 0.5), so linear
interpolation in delta is exact: iv(0.25) = atm + 0.02 and iv(0.75) = atm + 0.05.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

SPOT = 100.0
# strike -> call delta (OTM side used by the smile: puts below 100, calls from 100 up)
DELTAS = {80.0: 0.95, 85.0: 0.90, 90.0: 0.80, 95.0: 0.65, 100.0: 0.50, 105.0: 0.35,
          110.0: 0.20, 115.0: 0.10, 120.0: 0.05}  # fmt: skip
SLOPE_PUT = 0.20
SLOPE_CALL = -0.08
# days to expiry -> ATM IV
ATM = {20: 0.20, 40: 0.30, 90: 0.25}


def iv_at(atm: float, call_delta: float) -> float:
    slope = SLOPE_PUT if call_delta >= 0.5 else SLOPE_CALL
    return atm + slope * (call_delta - 0.5)


def rows(
    trade_date: date,
    atm: dict[int, float] = ATM,
    strikes: dict[float, float] = DELTAS,
    underlying: str = "KNWN",
    trading_class: str | None = None,
) -> list[dict[str, Any]]:
    out = []
    for days, level in atm.items():
        expiry = trade_date + timedelta(days=days)
        for k, cd in strikes.items():
            # gamma and OI chosen so GEX and the ratios are easy sums (see the tests)
            for right, delta in (("C", cd), ("P", cd - 1.0)):
                out.append({
                    "underlying": underlying, "trading_class": trading_class or underlying,
                    "expiry": expiry, "strike": k, "right": right, "iv": iv_at(level, cd),
                    "delta": delta, "und_price": SPOT, "gamma": 0.01 if k == 100.0 else 0.0,
                    "open_interest": 10 if right == "C" else 30, "multiplier": 100,
                    "volume": 2.0 if right == "C" else 3.0,
                })  # fmt: skip
    return out


def frame(trade_date: date, **kwargs: Any) -> pl.DataFrame:
    return pl.DataFrame(rows(trade_date, **kwargs))


# --- a store of these smiles, read by the server over stdio ----------------------------------
SESSIONS = (date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20))  # ends at STORE_END
NEAR_ONLY = {95.0: 0.65, 100.0: 0.50, 105.0: 0.35}  # NARW: no 25-delta strike stored


def day_atm(i: int, shift: float = 0.0) -> dict[int, float]:
    """Session i's ATM IVs: each session 1 vol point higher."""
    return {d: v + 0.01 * i + shift for d, v in ATM.items()}


def _table(day: date, slot: str, atm: dict[int, float], strikes: dict[float, float],
           sym: str, clean: bool) -> pa.Table:  # fmt: skip
    from datetime import UTC

    from shared.calendar import slot_datetime
    from shared.schema import DAILY_CLEAN_SCHEMA, SNAPSHOT_SCHEMA, conform

    data = rows(day, atm=atm, strikes=strikes, underlying=sym)
    n = len(data)
    sample = slot_datetime(day, slot).astimezone(UTC)
    cols = {k: [r[k] for r in data] for k in data[0]}
    cols.update({
        "trade_date": [day] * n, "slot": [slot] * n, "sample_time": [sample] * n,
        "ingest_id": [f"known-{day}-{slot}"] * n, "conid": list(range(1, n + 1)),
        "delayed_fallback": [False] * n, "data_quality_flags": [[] for _ in range(n)],
        "rollup_strategy": ["close"] * n,
    })  # fmt: skip
    schema = DAILY_CLEAN_SCHEMA if clean else SNAPSHOT_SCHEMA
    table = pa.table(
        {k: pa.array(v, schema.field(k).type) for k, v in cols.items() if k in schema.names}
    )
    return conform(table, schema)


def build_known_store(root: Path) -> Path:
    """KNWN and NARW, three sessions of daily_clean; intraday of the last session with the
    10:00 and 12:00 slots compacted and 12:00 collected again afterwards (the slot file,
    one vol point higher, supersedes the compacted copy), and a 16:00 slot file."""
    from scripts.bench.synthetic_store import Shape, StoreWriter

    writer = StoreWriter(root, ["KNWN", "NARW"], Shape(expiries=1, strikes=2))
    for i, day in enumerate(SESSIONS):
        for sym, strikes in (("KNWN", DELTAS), ("NARW", NEAR_ONLY)):
            table = _table(day, "16:00", day_atm(i), strikes, sym, clean=True)
            writer.write("daily_clean", day, sym, "", table)
    last = SESSIONS[-1]
    i = len(SESSIONS) - 1
    packed = pa.concat_tables([
        _table(last, "10:00", day_atm(i, -0.02), DELTAS, "KNWN", clean=False),
        _table(last, "12:00", day_atm(i, -0.01), DELTAS, "KNWN", clean=False),
    ])  # fmt: skip
    path = writer.layout.compacted_file("intraday", last, "KNWN")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(packed, path)
    writer.write(
        "intraday",
        last,
        "KNWN",
        "12:00",
        _table(last, "12:00", day_atm(i, 0.01), DELTAS, "KNWN", False),
    )
    writer.write(
        "intraday", last, "KNWN", "16:00", _table(last, "16:00", day_atm(i), DELTAS, "KNWN", False)
    )
    writer.flush()
    return writer.config_path
