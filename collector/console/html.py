"""Page layout and small HTML helpers: server-rendered pages, escaped at one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

PAGES = (("/", "Overview"), ("/operations", "Operations"), ("/history", "History"),
         ("/audit", "Audit"))  # fmt: skip


def e(value: Any) -> str:
    return escape("" if value is None else str(value))


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def nbytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return "-"


def link(path: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return e(f"{path}?{query}" if query else path)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "",
          raw: bool = False) -> str:  # fmt: skip
    """Cells are escaped unless raw=True (then the caller built them with e())."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else e(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def cards(items: Mapping[str, Any]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><span class="muted">{e(k)}</span><b>{v}</b></div>' for k, v in items.items()
    ) + "</div>"  # fmt: skip


def select(name: str, options: Sequence[str], chosen: str | None, blank: str | None = None) -> str:
    opts = [f'<option value="">{e(blank)}</option>'] if blank is not None else []
    opts += [f"<option{' selected' if o == chosen else ''}>{e(o)}</option>" for o in options]
    return f'<select name="{e(name)}" id="f-{e(name)}">{"".join(opts)}</select>'


def page(title: str, path: str, body: str, *, read_only: bool = False) -> str:
    nav = "".join(
        f'<a href="{href}" class="{"on" if href == path else ""}">{name}</a>'
        for href, name in PAGES
    )
    mode = "read-only" if read_only else "operations enabled"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} - opt-data</title>'
        f'<link rel="stylesheet" href="/static/console.css"></head><body>'
        f'<nav>{nav}<span class="who">opt-data console · {mode}</span></nav>'
        f'<main><h1>{e(title)}</h1>{body}</main><script src="/static/console.js"></script></body></html>'
    )
