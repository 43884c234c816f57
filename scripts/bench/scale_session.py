"""One realistic session at the scale of the S&P 500, written to the data contract.

500 underlyings x 14 intraday slots x 390 contracts (15 expiries x 13 strikes x 2 rights)
= 2.73M intraday rows, plus the close view, at the paths of shared.storage.Layout, written
by the collector's own writer (shared.storage.atomic_write_parquet, so a change of write
options shows in the bytes) and recorded in the ledger as the collector records them.

The values look like what IB sends: bid/ask on the exchange tick (0.01 under $3, 0.05
above), mid their midpoint, last and close on the cent, integer sizes and volume, the
underlying to the cent, model greeks and IV as unrounded doubles. About 2% of rows have no
quote (nulls + missing_quote/missing_greeks, as rows.build_row writes them), 1% no greeks,
and 1.5% of close rows no quote, so the rollup's fallback path is exercised; one
underlying in 100 has no close file at all.

    python -m scripts.bench.scale_session OUT_DIR --symbols 500
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from collector.pipeline.rows import fill_stats
from scripts.bench.synthetic_store import CONFIG, _ncdf, symbols_for
from shared import schema as S
from shared.calendar import get_session, session_slots, slot_datetime
from shared.config import AppConfig, load_config
from shared.ledger import Ledger, PartitionRecord
from shared.storage import Layout, atomic_write_parquet

# IB sends every value as a double; the data contract stores its model values as float32
IB_SCHEMA = pa.schema(
    [pa.field(f.name, pa.float64(), f.nullable) if f.name in S.MODEL_FLOAT32 else f
     for f in S.SNAPSHOT_SCHEMA]
)  # fmt: skip
DAY = date(2026, 11, 18)  # a full Wednesday session: 14 slots 09:30..16:00
EXPIRIES, STRIKES = 15, 13  # x 2 rights = 390 contracts per underlying


@dataclass(frozen=True)
class Session:
    root: Path
    config: Path
    day: date
    symbols: list[str]
    slots: list[str]
    intraday_rows: int
    close_rows: int

    def cfg(self) -> AppConfig:
        return load_config(self.config)


def _chain(k: int, sym: str, spot: float, day: date) -> dict[str, np.ndarray]:
    step = 0.5 if spot < 25 else 1.0 if spot < 100 else 2.5 if spot < 250 else 5.0
    atm = round(spot / step) * step
    strikes = atm + step * (np.arange(STRIKES) - STRIKES // 2)
    fri = day + timedelta(days=(4 - day.weekday()) % 7 or 7)
    weeks = [0, 1, 2, 3, 4, 5, 6, 7, 9, 13, 17, 22, 26, 35, 52]
    expiries = [fri + timedelta(weeks=w) for w in weeks[:EXPIRIES]]
    n_per = STRIKES * 2
    ex = np.repeat(np.array(expiries, dtype="datetime64[D]"), n_per)
    st = np.tile(np.repeat(strikes, 2), EXPIRIES)
    rt = np.tile(np.array(["C", "P"]), EXPIRIES * STRIKES)
    conid = 400_000_000 + k * 10_000 + np.arange(EXPIRIES * n_per)
    local = [
        f"{sym:<6}{e:%y%m%d}{r}{round(s * 1000):08d}"
        for e, s, r in zip(np.repeat(expiries, n_per), st.tolist(), rt.tolist(), strict=True)
    ]
    return {"expiry": ex, "strike": st, "right": rt, "conid": conid.astype(np.int64),
            "local_symbol": np.array(local)}  # fmt: skip


def _tick_round(x: np.ndarray, up: bool) -> np.ndarray:
    tick = np.where(x < 3.0, 0.01, 0.05)
    q = np.ceil(x / tick - 1e-9) if up else np.floor(x / tick + 1e-9)
    return np.round(q * tick, 2)


def _slot_table(
    rng: np.random.Generator, k: int, sym: str, chain: dict[str, np.ndarray], spot: float,
    vol: float, day: date, slot: str, view: str, minute: int, bad_share: float,
    day_state: dict[str, np.ndarray],
) -> pa.Table:  # fmt: skip
    n = len(chain["conid"])
    dte = (chain["expiry"] - np.datetime64(day, "D")).astype(np.int64)
    t = np.maximum(dte, 1) / 365.0
    m = np.log(chain["strike"] / spot)
    iv = vol * (1.0 - 0.35 * m + 1.2 * m * m) * (1.0 + 0.08 / np.sqrt(t * 12))
    iv = iv * (1.0 + rng.normal(0, 0.002, n))
    sq = np.sqrt(t)
    d1 = (-m + 0.5 * iv * iv * t) / (iv * sq)
    d2 = d1 - iv * sq
    nd1 = _ncdf(d1)
    call = chain["right"] == "C"
    pdf = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
    price_c = spot * nd1 - chain["strike"] * _ncdf(d2)
    model = np.maximum(np.where(call, price_c, price_c - spot + chain["strike"]), 0.005)
    half = np.maximum(0.005, model * rng.uniform(0.01, 0.04, n))
    bid = np.maximum(_tick_round(model - half, up=False), 0.0)
    ask = np.maximum(_tick_round(model + half, up=True), bid + 0.01)
    # close (the previous session's) and open interest hold all day; last moves on a trade
    traded = rng.random(n) < 0.3
    last = np.where(traded, np.round(model + rng.normal(0, 0.3, n) * half, 2).clip(0.01),
                    day_state["last"])  # fmt: skip
    day_state["last"] = last
    last_size = np.where(traded, rng.integers(1, 50, n).astype(float), day_state["last_size"])
    day_state["last_size"] = last_size
    cols: dict[str, object] = {
        "trade_date": pa.array([day] * n, pa.date32()),
        "slot": [slot] * n,
        "sample_time": pa.array([slot_datetime(day, slot).astimezone(UTC)] * n, S.TS),
        "ingest_id": [f"{view}-{day:%Y%m%d}T{slot.replace(':', '')}00-{k:08x}"] * n,
        "underlying": [sym] * n,
        "underlying_conid": np.full(n, 10_000 + k, dtype=np.int64),
        "conid": chain["conid"], "local_symbol": chain["local_symbol"],
        "trading_class": [sym] * n, "expiry": chain["expiry"], "strike": chain["strike"],
        "right": chain["right"], "multiplier": np.full(n, 100, dtype=np.int32),
        "exchange": ["SMART"] * n, "currency": ["USD"] * n,
        "bid": bid, "ask": ask, "mid": (bid + ask) / 2.0,
        "last": last,
        "bid_size": rng.integers(1, 500, n).astype(float),
        "ask_size": rng.integers(1, 500, n).astype(float),
        "last_size": last_size,
        "volume": np.floor(3000 * np.exp(-4 * m * m) / (1 + dte / 30) * (1 + minute / 400)),
        "close": day_state["close"],
        "iv": iv, "delta": np.where(call, nd1, nd1 - 1.0), "gamma": pdf / (spot * iv * sq),
        "vega": spot * pdf * sq / 100, "theta": -spot * pdf * iv / (2 * sq) / 365,
        "model_price": model, "pv_dividend": np.full(n, 0.0123 * spot * (1 + k % 3)),
        "und_price": np.full(n, round(spot, 2)), "reference_price": np.full(n, round(spot, 2)),
        "open_interest": day_state["open_interest"],
        "market_data_type": np.full(n, 2 if view == "close" else 1, dtype=np.int8),
        "delayed_fallback": np.zeros(n, dtype=bool),
    }  # fmt: skip
    no_quote = rng.random(n) < bad_share
    no_greeks = no_quote | (rng.random(n) < 0.01)
    flags = [
        ["missing_quote", "missing_greeks"] if q else ["missing_greeks"] if g else []
        for q, g in zip(no_quote.tolist(), no_greeks.tolist(), strict=True)
    ]
    cols["data_quality_flags"] = pa.array(flags, pa.list_(pa.string()))
    cols["missing_reason"] = [
        "missing_quote" if q else "missing_greeks" if g else None
        for q, g in zip(no_quote.tolist(), no_greeks.tolist(), strict=True)
    ]
    arrays = []
    for f in IB_SCHEMA:
        v = cols[f.name]
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            mask = np.isnan(v)
            if f.name in ("bid", "ask", "mid", "last", "bid_size", "ask_size", "last_size",
                          "volume", "close"):  # fmt: skip
                mask = mask | no_quote
            elif f.name in ("iv", "delta", "gamma", "vega", "theta", "model_price", "pv_dividend",
                            "und_price"):  # fmt: skip
                mask = mask | no_greeks
            arrays.append(pa.array(v, f.type, mask=mask))
        else:
            arrays.append(v if isinstance(v, pa.Array) else pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=IB_SCHEMA)


def underlying_day(
    k: int, sym: str, day: date, slots: list[str], seed: int = 11, with_close: bool = True,
    as_received: bool = False,
) -> list[tuple[str, str, pa.Table]]:  # fmt: skip
    """(view, slot, table) of one underlying's day: every intraday slot, then the close.

    Tables follow the data contract (SNAPSHOT_SCHEMA); `as_received=True` keeps every
    value as IB sends it (model values in float64), as files were written before."""
    rng = np.random.default_rng(seed * 100_003 + k)
    spot0 = float(rng.lognormal(math.log(120), 0.8))
    vol = float(rng.uniform(0.15, 0.6))
    chain = _chain(k, sym, spot0, day)
    n = len(chain["conid"])
    state = {"last": np.full(n, np.nan), "last_size": np.full(n, np.nan),
             "close": np.round(rng.lognormal(0, 1.2, n), 2).clip(0.01),
             "open_interest": rng.integers(0, 20_000, n)}  # fmt: skip
    jobs = [("intraday", s) for s in slots] + ([("close", slots[-1])] if with_close else [])
    out = []
    spot = spot0
    for view, slot in jobs:
        minute = int(slot[:2]) * 60 + int(slot[3:]) - 570
        spot = spot0 * (1.0 + 0.004 * math.sin(minute / 60 + k)) if view == "intraday" else spot
        bad = 0.015 if view == "close" else 0.02
        table = _slot_table(rng, k, sym, chain, spot, vol, day, slot, view, minute, bad, state)
        out.append((view, slot, table if as_received else S.conform(table, S.SNAPSHOT_SCHEMA)))
    return out


def write_session(
    root: Path, symbols: int = 500, day: date = DAY, seed: int = 11, threads: int = 2,
    no_close_every: int = 100,
) -> Session:  # fmt: skip
    """Write the session under `root` (config, universe, data, ledger); returns its handle."""
    names = symbols_for(symbols)
    (root / "config").mkdir(parents=True, exist_ok=True)
    config = root / "config" / "opt-data.toml"
    config.write_text(CONFIG, encoding="utf-8")
    (root / "config" / "universe.csv").write_text(
        "symbol,conid,sec_type,exchange,currency\n"
        + "".join(f"{s},{10_000 + i},STK,SMART,USD\n" for i, s in enumerate(names)),
        encoding="utf-8",
    )
    cfg = load_config(config)
    layout = Layout.from_config(cfg)
    ledger = Ledger(layout.ledger)
    session = get_session(day)
    assert session is not None, f"{day} is not a session"
    slots = list(session_slots(session))

    def one(k: int) -> list[PartitionRecord]:
        recs = []
        with_close = k % no_close_every != no_close_every - 1  # one in 100 has no close file
        for view, slot, table in underlying_day(k, names[k], day, slots, seed, with_close):
            path = layout.chain_file(view, day, names[k], slot)
            size = atomic_write_parquet(
                path, table, cfg.storage.compression, cfg.storage.compression_level
            )
            st = fill_stats(table)
            recs.append(PartitionRecord(view, day, names[k], slot, str(path), table.num_rows, size,
                                        st.quote_fill, st.greeks_fill, st.delayed_rows,
                                        st.served_delayed))  # fmt: skip
        return recs

    with ThreadPoolExecutor(threads) as pool:
        records = [r for recs in pool.map(one, range(len(names))) for r in recs]
    run_id = ledger.start_run("snapshot", day, None, run_id=f"scale-{day}")
    ledger.record_partitions(records, run_id)
    ledger.finish_run(run_id, "ok", rows_written=sum(r.rows for r in records))
    per = EXPIRIES * STRIKES * 2
    closes = sum(1 for k in range(len(names)) if k % no_close_every != no_close_every - 1)
    return Session(root, config, day, names, slots, len(names) * len(slots) * per, closes * per)


def load_session(root: Path, day: date = DAY) -> Session:
    """The handle of a session write_session left under `root` (the bench's --reuse)."""
    config = root / "config" / "opt-data.toml"
    lines = (root / "config" / "universe.csv").read_text(encoding="utf-8").splitlines()[1:]
    names = [line.split(",", 1)[0] for line in lines if line]
    layout = Layout.from_config(load_config(config))
    if any(layout.date_dir("intraday", day).glob("underlying=*/compacted.parquet")):
        raise SystemExit(f"{root}: the session's day is already compacted; write a new one")
    session = get_session(day)
    assert session is not None, f"{day} is not a session"
    slots = list(session_slots(session))
    per = EXPIRIES * STRIKES * 2
    closes = sum(1 for _ in layout.date_dir("close", day).glob("underlying=*"))
    return Session(root, config, day, names, slots, len(names) * len(slots) * per, closes * per)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--symbols", type=int, default=500)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    s = write_session(args.out, args.symbols)
    print(f"{s.intraday_rows:,} intraday rows in {time.perf_counter() - t0:.1f} s -> {s.config}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
