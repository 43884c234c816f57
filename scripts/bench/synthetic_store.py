"""A synthetic opt-data store built to the data contract, for tests and benchmarks.

Parquet files follow shared.schema (SNAPSHOT_SCHEMA / DAILY_CLEAN_SCHEMA) at the paths
of shared.storage.Layout; the ledger is created by shared.ledger.Ledger and filled with
the same rows the collector records (bulk-inserted in one transaction, for speed). The
market is deterministic: contracts (conids, expiries on Fridays, strike grids) are stable
across days, so day-over-day comparisons join. `faults=True` plants one of each problem
get_partition_issues looks for, on the newest session.

    python -m scripts.bench.synthetic_store OUT_DIR --sessions 3 --symbols 4
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shared.calendar import previous_session, session_slots, slot_datetime
from shared.config import load_config
from shared.ledger import PARTITION_COLUMNS, RUN_COLUMNS, Ledger, LedgerReader
from shared.schema import DAILY_CLEAN_SCHEMA, HISTORY_SCHEMA, SNAPSHOT_SCHEMA
from shared.storage import Layout

CONFIG = """[ib]
host = "127.0.0.1"
port = 4002
client_id_pool = "test"

[paths]
data = "data"
state = "state"

[universe]
file = "config/universe.csv"

[mcp]
allow_raw = false
allow_clean = true
"""
# Planted problem -> index of the symbol it is planted on (see plant_faults).
FAULTS = {"missing": 0, "empty": 1, "corrupt": 2, "leftover_tmp": 0, "delayed_rows": 1, "low_fill": 0,
          "duplicates": 1, "rollup_fallback": 2, "missing_oi": 3}  # fmt: skip
TICKERS = ("AAPL", "MSFT", "SPY", "QQQ", "NVDA", "AMZN", "TSLA", "META", "GOOGL", "IWM")


@dataclass(frozen=True)
class Shape:
    expiries: int = 4
    strikes: int = 10
    intraday_slots: tuple[str, ...] | None = None  # None: every slot of the session
    close_view: bool = True


def symbols_for(count: int) -> list[str]:
    names = list(TICKERS[:count])
    names += [f"S{i:03d}" for i in range(count - len(names))]
    return names


def sessions_ending(end: date, count: int) -> list[date]:
    days = [end]
    while len(days) < count:
        days.append(previous_session(days[-1]).trade_date)
    return sorted(days)


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): enough for synthetic greeks.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (
        ((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592
    ) * t * np.exp(-a * a)
    return s * y


def _ncdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


class Market:
    """Deterministic prices, chains and greeks per (symbol, date)."""

    def __init__(self, symbols: list[str], shape: Shape, seed: int = 7) -> None:
        self.symbols = symbols
        self.shape = shape
        rng = np.random.default_rng(seed)
        self.base = {s: float(rng.uniform(20, 600)) for s in symbols}
        self.vol = {s: float(rng.uniform(0.18, 0.55)) for s in symbols}

    def spot(self, sym: str, day: date, minute: int = 0) -> float:
        k = self.symbols.index(sym)
        t = day.toordinal() + minute / 1440.0
        return self.base[sym] * (1.0 + 0.05 * math.sin(t / 9.0 + k) + 0.01 * math.sin(t * 7.0 + k))

    def chain(self, sym: str, day: date) -> dict[str, np.ndarray]:
        k = self.symbols.index(sym)
        base = self.base[sym]
        step = 10 ** math.floor(math.log10(base * 0.02)) * (5 if base > 250 else 1)
        atm = round(base / step) * step
        strikes = atm + step * (np.arange(self.shape.strikes) - self.shape.strikes // 2)
        first_friday = day + timedelta(days=(4 - day.weekday()) % 7 or 7)
        expiries = [first_friday + timedelta(weeks=2**i - 1) for i in range(self.shape.expiries)]
        ex = np.repeat(np.array(expiries, dtype="datetime64[D]"), len(strikes) * 2)
        st = np.tile(np.repeat(strikes, 2), len(expiries))
        rt = np.tile(np.array(["C", "P"]), len(expiries) * len(strikes))
        ordinals = np.repeat([e.toordinal() % 100_000 for e in expiries], len(strikes) * 2)
        sidx = np.tile(np.repeat(np.arange(len(strikes)), 2), len(expiries))
        conid = (k + 1) * 10**9 + ordinals * 1000 + sidx * 2 + (rt == "P")
        return {"expiry": ex, "strike": st, "right": rt, "conid": conid.astype(np.int64)}

    def quotes(
        self, sym: str, day: date, chain: dict[str, np.ndarray], minute: int
    ) -> dict[str, np.ndarray]:
        s = self.spot(sym, day, minute)
        dte = (chain["expiry"] - np.datetime64(day, "D")).astype(np.int64)
        t = np.maximum(dte, 1) / 365.0
        m = np.log(chain["strike"] / s)
        iv = self.vol[sym] * (1.0 - 0.35 * m + 1.2 * m * m) * (1.0 + 0.08 / np.sqrt(t * 12))
        d1 = (-m + 0.5 * iv * iv * t) / (iv * np.sqrt(t))
        d2 = d1 - iv * np.sqrt(t)
        call = _ncdf(d1)
        is_call = chain["right"] == "C"
        delta = np.where(is_call, call, call - 1.0)
        pdf = np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi)
        gamma = pdf / (s * iv * np.sqrt(t))
        price_c = s * call - chain["strike"] * _ncdf(d2)
        price = np.where(is_call, price_c, price_c - s + chain["strike"])
        price = np.maximum(price, 0.01)
        spread = np.maximum(0.01, price * 0.04)
        volume = np.floor(1000 * np.exp(-4 * m * m) / (1 + dte / 30) * (1 + minute / 400))
        return {
            "und_price": np.full(len(iv), s), "iv": iv, "delta": delta, "gamma": gamma,
            "vega": s * pdf * np.sqrt(t) / 100, "theta": -s * pdf * iv / (2 * np.sqrt(t)) / 365,
            "model_price": price, "mid": price, "bid": price - spread / 2, "ask": price + spread / 2,
            "volume": volume,
        }  # fmt: skip


def _table(sym: str, day: date, slot: str, chain: dict[str, np.ndarray], q: dict[str, np.ndarray],
           clean: bool, oi: np.ndarray | None) -> pa.Table:  # fmt: skip
    n = len(chain["conid"])
    sample = slot_datetime(day, slot).astimezone(UTC)
    cols: dict[str, object] = {
        "trade_date": pa.array([day] * n, pa.date32()), "slot": [slot] * n,
        "sample_time": pa.array([sample] * n, pa.timestamp("us", tz="UTC")),
        "ingest_id": [f"syn-{day:%Y%m%d}-{slot}"] * n, "underlying": [sym] * n,
        "underlying_conid": [int(chain["conid"][0] // 10**9)] * n, "conid": chain["conid"],
        "local_symbol": None, "trading_class": [sym] * n, "expiry": chain["expiry"], "strike": chain["strike"],
        "right": chain["right"], "multiplier": pa.array([100] * n, pa.int32()), "exchange": ["SMART"] * n,
        "currency": ["USD"] * n, "last": q["mid"], "bid_size": np.full(n, 10.0), "ask_size": np.full(n, 12.0),
        "last_size": np.full(n, 1.0), "close": q["mid"], "pv_dividend": np.zeros(n),
        "reference_price": q["und_price"], "open_interest": oi,
        "market_data_type": pa.array([1] * n, pa.int8()), "delayed_fallback": np.zeros(n, dtype=bool),
        "data_quality_flags": pa.array([[]] * n, pa.list_(pa.string())), "missing_reason": None,
    }  # fmt: skip
    cols.update({k: v for k, v in q.items()})
    schema = DAILY_CLEAN_SCHEMA if clean else SNAPSHOT_SCHEMA
    if clean:
        cols.update({
            "rollup_source_time": pa.array([sample] * n, pa.timestamp("us", tz="UTC")),
            "rollup_source_slot": [slot] * n, "rollup_strategy": ["close"] * n,
            "oi_asof_date": pa.array([previous_session(day).trade_date] * n, pa.date32()),
        })  # fmt: skip
    arrays = [
        pa.nulls(n, f.type) if cols.get(f.name) is None else pa.array(cols[f.name], f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


class StoreWriter:
    def __init__(self, root: Path, symbols: list[str], shape: Shape) -> None:
        (root / "config").mkdir(parents=True, exist_ok=True)
        self.config_path = root / "config" / "opt-data.toml"
        self.config_path.write_text(CONFIG, encoding="utf-8")
        (root / "config" / "universe.csv").write_text(
            "symbol,conid,sec_type,exchange,currency\n"
            + "".join(f"{s},{i + 1},STK,SMART,USD\n" for i, s in enumerate(symbols)),
            encoding="utf-8",
        )
        self.layout = Layout.from_config(load_config(self.config_path))
        self.ledger = Ledger(self.layout.ledger)  # creates the schema as the collector does
        self.market = Market(symbols, shape)
        self.shape = shape
        self.symbols = symbols
        self.partitions: list[dict[str, object]] = []
        self.runs: list[dict[str, object]] = []

    def write(self, view: str, day: date, sym: str, slot: str, table: pa.Table) -> None:
        path = self.layout.chain_file(view, day, sym, slot or None)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, compression="zstd", compression_level=3)
        delayed = int(
            pa.compute.sum(table.column("delayed_fallback").cast(pa.int64())).as_py() or 0
        )
        fill = 1.0 - table.column("iv").null_count / max(1, table.num_rows)
        self.partitions.append(dict(zip(PARTITION_COLUMNS, (view, day.isoformat(), sym, slot, str(path),
                               table.num_rows, path.stat().st_size, 1.0, fill, delayed,
                               f"syn-{view}-{day}", _ts(day)), strict=True)))  # fmt: skip

    def session(self, day: date) -> None:
        from shared.calendar import get_session

        session = get_session(day)
        assert session is not None
        slots = session_slots(session)
        intraday = [s for s in (self.shape.intraday_slots or slots) if s in slots]
        last = slots[-1]
        for sym in self.symbols:
            chain = self.market.chain(sym, day)
            for slot in intraday:
                q = self.market.quotes(sym, day, chain, _minute(slot))
                self.write(
                    "intraday", day, sym, slot, _table(sym, day, slot, chain, q, False, None)
                )
            q = self.market.quotes(sym, day, chain, _minute(last))
            if self.shape.close_view:
                self.write("close", day, sym, last, _table(sym, day, last, chain, q, False, None))
            oi = (np.abs(chain["conid"] * 7919 + day.toordinal()) % 5000).astype(np.int64)
            self.write("daily_clean", day, sym, "", _table(sym, day, last, chain, q, True, oi))
        for task, slot in [("snapshot", s) for s in intraday] + [
            ("close-snapshot", last),
            ("rollup", None),
        ]:
            n = len(self.symbols)
            self.runs.append(dict(zip(RUN_COLUMNS, (f"syn-{task}-{day}-{slot}", task, day.isoformat(), slot,
                              "ok", _ts(day), _ts(day), 1.0, n, n, n, 0, None, None, ""), strict=True)))  # fmt: skip

    def flush(self) -> None:
        self.ledger.bulk_load(self.partitions, self.runs)
        self.partitions.clear()
        self.runs.clear()

    def history(self, days: list[date]) -> None:
        """Daily bars (clean/ib/history/bar=1d) of every symbol: one bar per session."""
        for sym in self.symbols:
            opens = [self.market.spot(sym, d, 0) for d in days]
            closes = [self.market.spot(sym, d, 390) for d in days]
            n = len(days)
            cols = {
                "underlying": [sym] * n, "conid": [self.symbols.index(sym) + 1] * n,
                "bar_date": days, "open": opens, "close": closes,
                "high": [max(o, c) * 1.005 for o, c in zip(opens, closes, strict=True)],
                "low": [min(o, c) * 0.995 for o, c in zip(opens, closes, strict=True)],
                "volume": [1e6 + 1000 * i for i in range(n)], "wap": closes, "bar_count": [390] * n,
                "source_bar_size": ["1 day"] * n, "source_bars": [1] * n, "ingest_id": ["syn-history"] * n,
            }  # fmt: skip
            path = self.layout.history_file(sym)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(cols, schema=HISTORY_SCHEMA), path, compression="zstd")

    def run_logs(self, day: date) -> None:
        lay = self.layout
        lay.selfcheck_dir().mkdir(parents=True, exist_ok=True)
        report = {
            "date": day.isoformat(),
            "status": "PASS",
            "checks": {"tmp_files": 0, "ledger": "ok"},
        }
        (lay.selfcheck_dir() / f"selfcheck_{day:%Y%m%d}.json").write_text(
            json.dumps(report), encoding="utf-8"
        )
        lay.errors_summary(day).parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "date": day.isoformat(),
            "total": 1,
            "by_keyword": {"ERROR": 1, "CRITICAL": 0, "PACING": 0},
        }
        lay.errors_summary(day).write_text(json.dumps(summary), encoding="utf-8")
        lay.metrics_file(day).parent.mkdir(parents=True, exist_ok=True)
        metrics = {"trade_date": day.isoformat(), "slot_coverage": 1.0, "rollup_fallback_ratio": 0.0,
                   "delayed_ratio": 0.0, "oi_fill": 1.0}  # fmt: skip
        lay.metrics_file(day).write_text(json.dumps(metrics), encoding="utf-8")
        lay.errors_log(day).write_text(
            f"{day} 10:00:03 ERROR snapshot AAPL timeout\n", encoding="utf-8"
        )


def _minute(slot: str) -> int:
    return int(slot[:2]) * 60 + int(slot[3:]) - 570


def _ts(day: date) -> str:
    return (
        datetime.combine(day, datetime.min.time(), UTC)
        .replace(hour=22)
        .isoformat(timespec="seconds")
    )


def build_store(root: Path, sessions: int, symbols: int | list[str], *, end: date,
                shape: Shape = Shape(), faults: bool = False) -> Path:  # fmt: skip
    """Write the store under `root`, its newest session `end`; returns the config file.

    `end` is explicit so that a store (and every answer computed over it) is the same
    whatever day it is built on.
    """
    names = symbols_for(symbols) if isinstance(symbols, int) else list(symbols)
    writer = StoreWriter(root, names, shape)
    days = sessions_ending(end, sessions)
    for i, day in enumerate(days):
        writer.session(day)
        if i % 10 == 9:
            writer.flush()
    writer.flush()
    writer.run_logs(days[-1])
    writer.history(days)
    if faults:
        plant_faults(writer.layout, days[-1], names)
    return writer.config_path


def plant_faults(layout: Layout, day: date, symbols: list[str]) -> dict[str, str]:
    """One of each problem on `day` (needs 4 symbols): what get_partition_issues must find."""
    a, b, c, d = symbols[:4]
    ledger = Ledger(layout.ledger)
    reader = LedgerReader(layout.ledger)

    def update(view: str, sym: str, slot: str, **changes: object) -> None:
        row = reader.partition(view, day, sym, slot)
        assert row is not None, (view, day, sym, slot)
        ledger.bulk_load(partitions=[{**row, **changes}])

    def rewrite(view: str, sym: str, slot: str, table: pa.Table) -> None:
        path = layout.chain_file(view, day, sym, slot or None)
        pq.write_table(table, path, compression="zstd")
        delayed = int(
            pa.compute.sum(table.column("delayed_fallback").cast(pa.int64())).as_py() or 0
        )
        update(
            view, sym, slot, rows=table.num_rows, bytes=path.stat().st_size, delayed_rows=delayed
        )

    def read(view: str, sym: str, slot: str) -> pa.Table:
        return pq.read_table(layout.chain_file(view, day, sym, slot or None))

    # missing: an expected intraday slot that was never written
    layout.chain_file("intraday", day, a, "10:00").unlink()
    ledger.forget_partition("intraday", day, a, "10:00")
    # empty: a file with no rows
    rewrite("intraday", b, "10:30", read("intraday", b, "10:30").slice(0, 0))
    # corrupt: the bytes of a Parquet file are not Parquet
    layout.chain_file("intraday", day, c, "11:00").write_bytes(b"PAR1 this is not a parquet file")
    # leftover tmp of a crashed writer
    (layout.underlying_dir("intraday", day, a) / ".slot=1130.parquet.x1y2.tmp").write_bytes(
        b"partial"
    )
    # delayed rows
    t = read("intraday", b, "11:30")
    flags = np.arange(t.num_rows) < 5
    t = t.set_column(
        t.schema.get_field_index("delayed_fallback"), "delayed_fallback", pa.array(flags)
    )
    rewrite("intraday", b, "11:30", t)
    # low greeks fill recorded by the collector
    update("intraday", a, "12:00", greeks_fill=0.5)
    # duplicates in daily_clean
    t = read("daily_clean", b, "")
    rewrite("daily_clean", b, "", pa.concat_tables([t, t.slice(0, 3)]))
    # rollup fallback rows
    t = read("daily_clean", c, "")
    strat = ["intraday_fallback" if i < 4 else "close" for i in range(t.num_rows)]
    t = t.set_column(
        t.schema.get_field_index("rollup_strategy"), "rollup_strategy", pa.array(strat)
    )
    rewrite("daily_clean", c, "", t)
    # missing open interest
    t = read("daily_clean", d, "")
    oi = [None if i < 6 else v for i, v in enumerate(t.column("open_interest").to_pylist())]
    t = t.set_column(
        t.schema.get_field_index("open_interest"), "open_interest", pa.array(oi, pa.int64())
    )
    rewrite("daily_clean", d, "", t)
    # a failed run
    ledger.bulk_load(runs=[{
        "run_id": f"syn-failed-{day}", "task": "enrichment", "trade_date": day.isoformat(),
        "slot": None, "status": "failed", "started_at": _ts(day), "finished_at": _ts(day),
        "error_summary": "open_interest: 3 consecutive failures (oi_enrichment_failed)",
    }])  # fmt: skip
    return {kind: symbols[i] for kind, i in FAULTS.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--symbols", type=int, default=4)
    p.add_argument("--faults", action="store_true")
    p.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 20),
                   help="the newest session (YYYY-MM-DD)")  # fmt: skip
    args = p.parse_args(argv)
    print(build_store(args.out, args.sessions, args.symbols, end=args.end, faults=args.faults))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
