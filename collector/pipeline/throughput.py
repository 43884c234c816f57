"""What a snapshot run's line loop achieved, summarised for the ledger's run details.

Contracts/s of the loop and the dwell (seconds a contract held its line) are what the
pacing ceiling of collector/ops/capacity.py is computed from (min(messages/s / 2,
lines / dwell)); the console sets one against the other. The dwell distribution is kept as
fixed buckets so runs can be compared and charted without the raw list.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

# Upper edges (s) of the dwell histogram; the last bucket is everything above 12 s (the
# default subscription timeout), i.e. contracts that timed out.
DWELL_EDGES = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 12.0)


def _quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def throughput_summary(dwell_sec: Sequence[float], collect_sec: float) -> dict[str, Any]:
    """Contracts/s the line loop achieved, and the dwell distribution in buckets."""
    n = len(dwell_sec)
    ordered = sorted(dwell_sec)
    counts = [0] * (len(DWELL_EDGES) + 1)
    for d in ordered:
        counts[bisect.bisect_left(DWELL_EDGES, d)] += 1
    mean = sum(ordered) / n if n else None
    return {
        "contracts": n,
        "collect_sec": round(collect_sec, 3),
        "contracts_per_sec": round(n / collect_sec, 2) if collect_sec > 0 else None,
        "dwell_sec": {
            "mean": round(mean, 4) if mean is not None else None,
            "p50": round(_quantile(ordered, 0.5), 4) if n else None,
            "p90": round(_quantile(ordered, 0.9), 4) if n else None,
            "max": round(ordered[-1], 4) if n else None,
            "edges": list(DWELL_EDGES),
            "counts": counts,
        },
    }
