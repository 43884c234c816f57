"""Historical bars (reqHistoricalData) as our Bar records."""

from __future__ import annotations

from datetime import date, datetime

from collector.ib.contracts import underlying_contract
from collector.ib.session import IBSession
from collector.ib.types import Bar, UnderlyingRef


async def historical_bars(
    session: IBSession,
    ref: UnderlyingRef,
    *,
    end: datetime | str,
    duration: str,
    bar_size: str,
    what_to_show: str,
    use_rth: bool,
    timeout: float = 60.0,
) -> list[Bar]:
    """One reqHistoricalData; an IB error (e.g. 162) ends it with an empty list."""
    bars = await session.request(
        session.ib.reqHistoricalDataAsync(
            underlying_contract(ref),
            end,
            duration,
            bar_size,
            what_to_show,
            use_rth,
            formatDate=2,
            timeout=0,
        ),
        f"historical {bar_size} bars of {ref.symbol}",
        timeout=timeout,
    )
    out: list[Bar] = []
    for b in bars or []:
        start: datetime | date = b.date
        out.append(
            Bar(
                start=start,
                open=float(b.open),
                high=float(b.high),
                low=float(b.low),
                close=float(b.close),
                volume=float(b.volume),
                wap=float(b.average),
                bar_count=int(b.barCount),
            )
        )
    return out
