"""Universe files (symbol,conid,sec_type,exchange,currency) and symbol resolution."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from collector.pipeline.errors import InputError
from shared.config import AppConfig
from shared.storage import check_symbol


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str
    conid: int | None
    sec_type: str  # STK | IND
    exchange: str
    currency: str


def universe_file(cfg: AppConfig, view: str) -> Path:
    u = cfg.universe
    if view == "close" and u.close_file:
        return u.close_file
    if view == "intraday" and u.intraday_file:
        return u.intraday_file
    return u.file


def read_universe(path: Path) -> list[UniverseEntry]:
    if not path.is_file():
        raise InputError(f"universe file not found: {path}")
    entries: list[UniverseEntry] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "symbol" not in reader.fieldnames:
            raise InputError(f"universe file {path} has no 'symbol' column")
        for lineno, row in enumerate(reader, start=2):
            raw = (row.get("symbol") or "").strip()
            if not raw or raw.startswith("#"):
                continue
            try:
                symbol = check_symbol(raw)
            except ValueError as exc:
                raise InputError(f"universe file {path} line {lineno}: {exc}") from None
            conid_text = (row.get("conid") or "").strip()
            try:
                conid = int(conid_text) if conid_text else None
            except ValueError:
                raise InputError(
                    f"universe file {path} line {lineno}: bad conid {conid_text!r}"
                ) from None
            sec_type = (row.get("sec_type") or "").strip().upper() or "STK"
            if sec_type not in ("STK", "IND"):
                raise InputError(f"universe file {path} line {lineno}: sec_type must be STK or IND")
            default_exchange = "CBOE" if sec_type == "IND" else "SMART"
            entries.append(
                UniverseEntry(
                    symbol,
                    conid,
                    sec_type,
                    (row.get("exchange") or "").strip().upper() or default_exchange,
                    (row.get("currency") or "").strip().upper() or "USD",
                )
            )
    if not entries:
        raise InputError(f"universe file {path} lists no symbols")
    return entries


def parse_symbols(text: str) -> list[str]:
    out: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            sym = check_symbol(part)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if sym not in out:
            out.append(sym)
    if not out:
        raise InputError(f"no symbols in {text!r}")
    return out


def resolve_symbols(
    cfg: AppConfig, symbols_arg: str | list[str] | None, view: str = "intraday"
) -> list[UniverseEntry]:
    """The universe entries to run: all of the view's universe file, or the named subset.

    A named symbol that is not in the universe file is still allowed (the operator may
    narrow or widen a run); it gets no conid and is qualified at discovery.
    """
    path = universe_file(cfg, view)
    universe = {e.symbol: e for e in read_universe(path)}
    if symbols_arg is None or symbols_arg == "" or symbols_arg == []:
        return list(universe.values())
    names = (
        parse_symbols(symbols_arg)
        if isinstance(symbols_arg, str)
        else parse_symbols(",".join(symbols_arg))
    )
    out = []
    for name in names:
        entry = universe.get(name)
        if entry is None:
            sec_type = "IND" if name in ("SPX", "NDX", "VIX", "RUT", "XSP") else "STK"
            entry = UniverseEntry(
                name, None, sec_type, "CBOE" if sec_type == "IND" else "SMART", "USD"
            )
        out.append(entry)
    return out
