"""The retry queue: slots recorded `missed` in the ledger and not collected ok since."""

from __future__ import annotations

from datetime import date

from shared.ledger import LedgerReader
from shared.storage import Layout
from shared.tasks import Task


def missed_slots(
    layout: Layout, trade_date: date, task: str = Task.SNAPSHOT, shard: str = ""
) -> list[str]:
    """Slots of `task` on `trade_date` whose latest missed record of this shard ("" when
    unsharded) has no later ok run."""
    return LedgerReader(layout.ledger).missed_slots(task, trade_date, shard)
