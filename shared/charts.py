"""PNG charts of the analysis results, shared by the MCP server and the operator console.

Each function takes the plain columns a query already returns (lists, JSON-ready) and
gives PNG bytes. matplotlib is imported on the first chart only (server start-up stays
fast) and drawn with the Agg canvas on a private Figure (no pyplot global state), so
charts can be drawn from worker threads.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH, HEIGHT, DPI = 8.0, 4.8, 100
NOT_REACHED = "not_reached"
EXTRAPOLATED = "extrapolated"


def _figure(rows: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, HEIGHT * (0.62 if rows > 1 else 1) * rows), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
    return fig, [a[0] for a in axes]


def _png(fig: Any) -> bytes:
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _pct(values: Sequence[float | None]) -> list[float]:
    return [float("nan") if v is None else 100.0 * v for v in values]


def vol_timeseries_png(series: dict[str, list[Any]], tenors: Sequence[int], title: str) -> bytes:
    """ATM IV at constant maturities, then 25-delta RR and BF, then total GEX, over time."""
    labels = [
        f"{d} {s}" if s else str(d) for d, s in zip(series["date"], series["slot"], strict=True)
    ]
    x = list(range(len(labels)))
    fig, (iv_ax, skew_ax, gex_ax) = _figure(3)
    for t in tenors:
        iv_ax.plot(x, _pct(series.get(f"atm_iv_{t}d", [])), marker=".", label=f"{t}d")
    iv_ax.set_ylabel("ATM IV %")
    iv_ax.legend(loc="best", fontsize=8, ncol=len(tenors))
    iv_ax.set_title(title)
    skew_ax.plot(x, _pct(series.get("rr25", [])), marker=".", label="RR25")
    skew_ax.plot(x, _pct(series.get("bf25", [])), marker=".", label="BF25")
    skew_ax.axhline(0, color="grey", linewidth=0.6)
    skew_ax.set_ylabel("vol points")
    skew_ax.legend(loc="best", fontsize=8)
    gex = [float("nan") if v is None else v / 1e6 for v in series.get("total_gex", [])]
    gex_ax.bar(x, gex, color=["tab:green" if g >= 0 else "tab:red" for g in gex])
    gex_ax.set_ylabel("GEX $M / 1%")
    step = max(1, len(x) // 8)
    gex_ax.set_xticks(x[::step], labels[::step], rotation=30, ha="right", fontsize=7)
    return _png(fig)


def vol_surface_png(surface: dict[str, Any], title: str) -> bytes:
    """IV by call-equivalent delta, one line per tenor; hollow markers are extrapolated."""
    fig, (ax,) = _figure(1)
    deltas = [100 * d for d in surface["deltas"]]
    for tenor, ivs, hows in zip(surface["tenors"], surface["iv"], surface["how"], strict=True):
        (line,) = ax.plot(deltas, _pct(ivs), marker="o", label=f"{tenor}d")
        for d, v, how in zip(deltas, ivs, hows, strict=True):
            if v is not None and how == EXTRAPOLATED:
                ax.plot([d], [100 * v], marker="o", markerfacecolor="white",
                        markeredgecolor=line.get_color())  # fmt: skip
    missing = [
        f"{round(d)}" for j, d in enumerate(deltas)
        if all(h[j] == NOT_REACHED for h in surface["how"])
    ]  # fmt: skip
    if missing:
        ax.text(0.01, 0.02, f"not reached by stored strikes: {', '.join(missing)}-delta",
                transform=ax.transAxes, fontsize=8, color="tab:red")  # fmt: skip
    ax.set_xlabel("call-equivalent delta (75 = 25-delta put)")
    ax.set_ylabel("IV %")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8, ncol=3)
    return _png(fig)


def smile_png(strikes: Sequence[float], ivs: Mapping[str, Sequence[float | None]], spot: float | None,
              title: str) -> bytes:  # fmt: skip
    """IV against strike, one line per named series (e.g. call_iv, put_iv, otm_iv)."""
    fig, (ax,) = _figure(1)
    for name, values in ivs.items():
        ax.plot(list(strikes), _pct(values), marker=".", label=name)
    if spot:
        ax.axvline(spot, color="grey", linestyle="--", linewidth=0.8, label="spot")
    ax.set_xlabel("strike")
    ax.set_ylabel("IV %")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def term_structure_png(days: Sequence[float], ivs: Sequence[float | None], title: str) -> bytes:
    fig, (ax,) = _figure(1)
    ax.plot(list(days), _pct(ivs), marker="o")
    ax.set_xlabel("days to expiry")
    ax.set_ylabel("ATM IV %")
    ax.set_title(title)
    return _png(fig)


def gex_by_strike_png(strikes: Sequence[float], net_gex: Sequence[float | None],
                      spot: float | None, title: str) -> bytes:  # fmt: skip
    fig, (ax,) = _figure(1)
    values = [0.0 if v is None else v / 1e6 for v in net_gex]
    ax.bar(list(strikes), values, color=["tab:green" if v >= 0 else "tab:red" for v in values],
           width=_bar_width(strikes))  # fmt: skip
    if spot:
        ax.axvline(spot, color="grey", linestyle="--", linewidth=0.8, label="spot")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("strike")
    ax.set_ylabel("net GEX $M / 1%")
    ax.set_title(title)
    return _png(fig)


def _bar_width(strikes: Sequence[float]) -> float:
    ordered = sorted(set(strikes))
    gaps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
    return 0.8 * min(gaps) if gaps else 1.0
