"""Charts as inline SVG, drawn on the server from the columns a query returned.

Why SVG from the server and not a JavaScript chart library: the console must work over an
SSH tunnel with no internet (no CDN), start fast and be testable without a browser; an SVG
is plain markup a test can parse. Interaction stays in the browser: every point and bar
carries a <title> (hover shows the value) and a legend entry toggles its series
(console.js). Values that are None are gaps, never zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

W, H = 640, 300
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 28, 44
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")

Series = tuple[str, Sequence[float | None]]


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _bounds(values: list[float], zero: bool = False) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        hi, lo = hi + (abs(hi) or 1.0) * 0.05, lo - (abs(lo) or 1.0) * 0.05
    pad = (hi - lo) * 0.06
    return lo - (0 if zero and lo == 0 else pad), hi + pad


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}B"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


class _Frame:
    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1

    def x(self, v: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return PAD_L + (v - self.x0) / span * (W - PAD_L - PAD_R)

    def y(self, v: float) -> float:
        return H - PAD_B - (v - self.y0) / ((self.y1 - self.y0) or 1.0) * (H - PAD_T - PAD_B)


def _axes(
    f: _Frame, title: str, xlabel: str, ylabel: str, xticks: list[tuple[float, str]]
) -> list[str]:
    out = [f'<text x="{W / 2}" y="16" text-anchor="middle" class="ct">{escape(title)}</text>',
           f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" class="ax"/>',
           f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" class="ax"/>']  # fmt: skip
    for i in range(5):
        v = f.y0 + (f.y1 - f.y0) * i / 4
        y = f.y(v)
        out.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" class="gr"/>')
        out.append(f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    for xv, label in xticks:
        x = f.x(xv)
        out.append(
            f'<text x="{x:.1f}" y="{H - PAD_B + 14}" text-anchor="middle">{escape(label)}</text>'
        )
    out.append(f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{H / 2}" transform="rotate(-90 12 {H / 2})" '
               f'text-anchor="middle">{escape(ylabel)}</text>')  # fmt: skip
    return out


def _ticks(
    xs: Sequence[float], labels: Sequence[str] | None, n: int = 8
) -> list[tuple[float, str]]:
    if not xs:
        return []
    step = max(1, len(xs) // n)
    picked = list(range(0, len(xs), step))
    return [(xs[i], labels[i] if labels else _fmt(xs[i])) for i in picked]


def _wrap(kind: str, body: list[str], legend: list[str], chart_id: str) -> str:
    leg = "".join(
        f'<span class="lg" data-series="{chart_id}-{i}"><i style="background:{COLOURS[i % len(COLOURS)]}"></i>'
        f"{escape(name)}</span>"
        for i, name in enumerate(legend)
    )
    svg = (f'<svg class="chart" data-kind="{kind}" id="{chart_id}" viewBox="0 0 {W} {H}" '
           f'xmlns="http://www.w3.org/2000/svg" role="img">{"".join(body)}</svg>')  # fmt: skip
    return f'<figure class="chartbox">{svg}<figcaption>{leg}</figcaption></figure>'


def empty(title: str, reason: str) -> str:
    return (
        f'<figure class="chartbox empty"><p><b>{escape(title)}</b>: {escape(reason)}</p></figure>'
    )


def line_chart(chart_id: str, title: str, xs: Sequence[float], series: Sequence[Series], *,
               xlabel: str = "", ylabel: str = "", xlabels: Sequence[str] | None = None,
               vline: tuple[float, str] | None = None) -> str:  # fmt: skip
    ys = [v for _, values in series for v in _finite(values)]
    if not xs or not ys:
        return empty(title, "no data")
    f = _Frame(min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1, *_bounds(ys))
    body = _axes(f, title, xlabel, ylabel, _ticks(xs, xlabels))
    if vline is not None and f.x0 <= vline[0] <= f.x1:
        x = f.x(vline[0])
        body.append(f'<line x1="{x:.1f}" y1="{PAD_T}" x2="{x:.1f}" y2="{H - PAD_B}" class="vl">'
                    f"<title>{escape(vline[1])}</title></line>")  # fmt: skip
    for i, (name, values) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts: list[str] = []
        segs: list[list[str]] = []
        seg: list[str] = []
        for j, (xv, yv) in enumerate(zip(xs, values, strict=False)):
            if yv is None or not math.isfinite(float(yv)):
                segs.append(seg)
                seg = []
                continue
            px, py = f.x(xv), f.y(float(yv))
            seg.append(f"{px:.1f},{py:.1f}")
            label = xlabels[j] if xlabels else _fmt(xv)
            pts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                       f"<title>{escape(name)} @ {escape(label)}: {float(yv):.4g}</title></circle>")  # fmt: skip
        segs.append(seg)
        lines = "".join(f'<polyline points="{" ".join(s)}" stroke="{colour}" class="ln"/>'
                        for s in segs if len(s) > 1)  # fmt: skip
        body.append(f'<g class="series" data-series="{chart_id}-{i}">{lines}{"".join(pts)}</g>')
    return _wrap("line", body, [n for n, _ in series], chart_id)


def bar_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], *,
              xlabel: str = "", ylabel: str = "", series_name: str = "",
              vline_at: int | None = None) -> str:  # fmt: skip
    ys = _finite(values)
    if not labels or not ys:
        return empty(title, "no data")
    f = _Frame(-0.5, len(labels) - 0.5, *_bounds(ys, zero=True))
    xs = list(range(len(labels)))
    body = _axes(f, title, xlabel, ylabel, _ticks([float(x) for x in xs], list(labels)))
    width = (W - PAD_L - PAD_R) / len(labels) * 0.8
    zero = f.y(0.0)
    bars = []
    for x, label, v in zip(xs, labels, values, strict=True):
        if v is None:
            continue
        y = f.y(float(v))
        cls = "neg" if v < 0 else "pos"
        bars.append(f'<rect x="{f.x(x) - width / 2:.1f}" y="{min(y, zero):.1f}" width="{width:.1f}" '
                    f'height="{abs(zero - y):.1f}" class="bar {cls}"><title>{escape(label)}: '
                    f"{float(v):.4g}</title></rect>")  # fmt: skip
    body.append(f'<g class="series" data-series="{chart_id}-0">{"".join(bars)}</g>')
    if vline_at is not None:
        vx = f.x(vline_at)
        body.append(f'<line x1="{vx:.1f}" y1="{PAD_T}" x2="{vx:.1f}" y2="{H - PAD_B}" class="vl"/>')
    return _wrap("bar", body, [series_name or title], chart_id)
