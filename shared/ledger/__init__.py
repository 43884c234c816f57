"""The run ledger (runs and partitions): SQLite by default, Postgres when shared.

`Ledger(location)` writes, `LedgerReader(location)` reads read-only; a location is the
SQLite file (Layout.ledger by default) or a LedgerURL. See sql.py for the named reads and
writes, backend.py for what differs between the two databases.
"""

from shared.ledger.location import URL_ENV, LedgerError, LedgerLocation, LedgerURL, describe
from shared.ledger.sql import (
    INTERRUPTED,
    PARTITION_COLUMNS,
    RUN_COLUMNS,
    RUN_STATUSES,
    Ledger,
    LedgerReader,
    PartitionRecord,
    new_run_id,
    unrepaired_missed,
    utcnow_iso,
)

__all__ = [
    "INTERRUPTED",
    "PARTITION_COLUMNS",
    "RUN_COLUMNS",
    "RUN_STATUSES",
    "URL_ENV",
    "Ledger",
    "LedgerError",
    "LedgerLocation",
    "LedgerReader",
    "LedgerURL",
    "PartitionRecord",
    "describe",
    "new_run_id",
    "unrepaired_missed",
    "utcnow_iso",
]
