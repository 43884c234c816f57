"""The one import of the IB client library (ib_async, or ib_insync when only that is installed)."""

from __future__ import annotations

try:
    import ib_async as ibapi
    from ib_async import IB, Contract, Index, Option, Stock, Ticker

    LIBRARY = "ib_async"
except ImportError:  # pragma: no cover - the project pins ib_async
    import ib_insync as ibapi  # type: ignore[no-redef]
    from ib_insync import IB, Contract, Index, Option, Stock, Ticker  # type: ignore[no-redef,assignment]

    LIBRARY = "ib_insync"

__all__ = ["IB", "LIBRARY", "Contract", "Index", "Option", "Stock", "Ticker", "ibapi"]
