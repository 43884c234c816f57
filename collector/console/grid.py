"""The Overview's slot grid: one cell per (underlying, slot), coloured by what happened.

Pure: it takes what the ledger and the calendar already said and decides each cell.
  ok       - the partition is written with quotes and greeks filled, no delayed rows
  delayed  - written, but some rows came from delayed data (acquisition.allow_fallback)
  partial  - written, but empty, or by a run that ended partial (contracts not collected)
  queued   - not written and the slot is in the retry queue (`--retry-missed`)
  missed   - not written though the slot is due
  running  - a run of the slot is in progress
  pending  - not due yet
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STATUSES = ("ok", "delayed", "partial", "queued", "missed", "running", "pending")


@dataclass(frozen=True)
class Cell:
    underlying: str
    slot: str
    status: str
    run_id: str | None = None
    rows: int = 0
    note: str = ""


def cell_status(part: Mapping[str, Any], run_status: str | None) -> tuple[str, str]:
    """Status and a hover note for a written partition and the status of the run behind it.

    Fill ratios go in the note, not the colour: deep out-of-the-money contracts often have
    no bid, so a low quote fill is normal and would paint healthy slots.
    """
    rows = int(part.get("rows") or 0)
    quote, greeks = part.get("quote_fill"), part.get("greeks_fill")
    note = f"{rows} rows, quotes {_pct(quote)}, greeks {_pct(greeks)}"
    if rows == 0 or run_status == "partial":
        return "partial", note + (f", run {run_status}" if run_status else "")
    if int(part.get("delayed_rows") or 0) > 0:
        return "delayed", f"{note}, {part['delayed_rows']} delayed"
    return "ok", note


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def slot_grid(
    symbols: Sequence[str],
    slots: Sequence[str],
    partitions: Iterable[Mapping[str, Any]],
    runs: Iterable[Mapping[str, Any]],
    *,
    due: Sequence[str],
    queued: Sequence[str],
) -> list[list[Cell]]:
    """Rows per underlying, columns per slot (the session's slots, in order)."""
    written = {(p["underlying"], p["slot"]): p for p in partitions}
    running = {r["slot"] for r in runs if r.get("status") == "running"}
    run_status = {str(r["run_id"]): str(r.get("status")) for r in runs}
    latest_run: dict[str, str] = {}
    for r in runs:  # ordered by start: the last one per slot wins
        if r.get("slot"):
            latest_run[str(r["slot"])] = str(r["run_id"])
    grid = []
    for sym in symbols:
        row = []
        for slot in slots:
            part = written.get((sym, slot))
            if part is not None:
                run_id = part.get("run_id") or latest_run.get(slot)
                status, note = cell_status(part, run_status.get(str(run_id)))
                row.append(Cell(sym, slot, status, run_id, int(part.get("rows") or 0), note))
            elif slot in running:
                row.append(Cell(sym, slot, "running", latest_run.get(slot), note="run in progress"))
            elif slot in queued:
                row.append(
                    Cell(sym, slot, "queued", latest_run.get(slot), note="in the retry queue")
                )
            elif slot in due:
                row.append(Cell(sym, slot, "missed", latest_run.get(slot), note="due, not written"))
            else:
                row.append(Cell(sym, slot, "pending", note="not due yet"))
        grid.append(row)
    return grid


def status_counts(grid: Sequence[Sequence[Cell]]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in grid:
        for cell in row:
            counts[cell.status] += 1
    return counts
