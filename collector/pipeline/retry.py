"""The retry queue: slots recorded `missed` in the ledger and not collected ok since."""

from __future__ import annotations

from datetime import date

from shared.ledger import LedgerReader
from shared.storage import Layout


def missed_slots(layout: Layout, trade_date: date, task: str = "snapshot") -> list[str]:
    """Slots of `task` on `trade_date` whose latest missed record has no later ok run."""
    runs = LedgerReader(layout.ledger).query(
        "SELECT slot, status, started_at FROM runs WHERE task=? AND trade_date=? AND slot IS NOT NULL "
        "ORDER BY started_at, rowid",
        (task, trade_date.isoformat()),
    )
    queued: dict[str, bool] = {}
    for r in runs:
        if r["status"] == "missed":
            queued[r["slot"]] = True
        elif r["status"] == "ok":
            queued[r["slot"]] = False
    return sorted(slot for slot, waiting in queued.items() if waiting)
