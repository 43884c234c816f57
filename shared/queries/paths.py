"""Validated paths: every file a tool reads is built from checked arguments via Layout.

Nothing here walks the data root. A symbol, view, date or slot that does not validate is
a QueryError (shown to the caller as is); a built path that would resolve outside its
allowed root (a symlink, say) is refused the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from shared.calendar import parse_slot, parse_trade_date, slot_label, today_et
from shared.datafs import DataPath
from shared.queries import files
from shared.storage import CHAIN_VIEWS, RAW_VIEWS, Layout, check_symbol

EARLIEST_DATE = date(2000, 1, 1)


class QueryError(ValueError):
    """A request the server refuses; the message is what the caller sees."""


class QueryTimeout(QueryError):
    """A query stopped at its time limit: it failed, it was not refused (the audit row's
    status is 'error', as for any tool's slow query); the message says how to narrow it."""


@dataclass(frozen=True)
class DataAccess:
    """The data root as the server may see it: which views are readable, and where."""

    layout: Layout
    allow_raw: bool
    allow_clean: bool

    # --- argument checks ------------------------------------------------------------------
    def allowed_views(self) -> tuple[str, ...]:
        return tuple(
            v
            for v in CHAIN_VIEWS
            if (v in RAW_VIEWS and self.allow_raw) or (v == "daily_clean" and self.allow_clean)
        )

    def view(self, view: str) -> str:
        if view not in CHAIN_VIEWS:
            raise QueryError(f"unknown view {view!r}: expected one of {', '.join(CHAIN_VIEWS)}")
        if view in RAW_VIEWS and not self.allow_raw:
            raise QueryError(
                f"view {view!r} is raw data, which this server does not serve (start it with --allow-raw)"
            )
        if view == "daily_clean" and not self.allow_clean:
            raise QueryError(
                "view 'daily_clean' is disabled on this server (start it with --allow-clean)"
            )
        return view

    def views_or_all(self, view: str | None) -> tuple[str, ...]:
        if view is None:
            views = self.allowed_views()
            if not views:
                raise QueryError(
                    "no view is readable: the server was started with --no-allow-raw --no-allow-clean"
                )
            return views
        return (self.view(view),)

    @staticmethod
    def symbol(symbol: str) -> str:
        try:
            return check_symbol(symbol)
        except ValueError as exc:
            raise QueryError(str(exc)) from None

    @staticmethod
    def trade_date(text: str | None, today: date | None = None) -> date | None:
        """'YYYY-MM-DD' or 'today'; None stays None (the tool picks the latest date)."""
        if text is None or not text.strip():
            return None
        try:
            day = parse_trade_date(text)
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        limit = today or today_et()
        if not EARLIEST_DATE <= day <= limit:
            raise QueryError(f"date {day} is outside {EARLIEST_DATE}..{limit} (today, ET)")
        return day

    @staticmethod
    def slot(text: str | None) -> str | None:
        if text is None or not text.strip():
            return None
        try:
            return slot_label(parse_slot(text))
        except ValueError as exc:
            raise QueryError(str(exc)) from None

    # --- paths ---------------------------------------------------------------------------
    def root_of(self, view: str) -> DataPath:
        return self.layout.clean if view == "daily_clean" else self.layout.raw

    def chain_file(self, view: str, trade_date: date, symbol: str, slot: str | None) -> DataPath:
        self.view(view)
        if view != "daily_clean" and slot is None:
            raise QueryError(f"view {view!r} needs a slot (HH:MM)")
        path = self.layout.chain_file(view, trade_date, self.symbol(symbol), slot)
        return self.inside(path, self.root_of(view))

    def compacted_file(self, view: str, trade_date: date, symbol: str) -> DataPath:
        """A raw view's weekly-compacted file of one date and underlying (every slot in it)."""
        if self.view(view) not in RAW_VIEWS:
            raise QueryError(f"view {view!r} has no compacted files")
        path = self.layout.compacted_file(view, trade_date, self.symbol(symbol))
        return self.inside(path, self.root_of(view))

    def date_dir(self, view: str, trade_date: date) -> DataPath:
        return self.inside(self.layout.date_dir(self.view(view), trade_date), self.root_of(view))

    def run_log(self, *parts: str) -> Path:
        path = self.layout.run_logs.joinpath(*parts)  # run logs stay local (shared.datafs)
        self.inside(path, self.layout.run_logs)
        return path

    @staticmethod
    def inside(path: DataPath, root: DataPath) -> DataPath:
        """Refuse a path that resolves (through symlinks or '..') outside `root`."""
        if not files.is_inside(path, root):
            raise QueryError("the requested partition resolves outside the data root")
        return path

    def relative(self, path: DataPath) -> str:
        for base in (self.layout.data, self.layout.state):
            rel = files.relative(path, base)
            if rel is not None:
                return rel
        return path.name

    # --- bounded reads of small run logs -------------------------------------------------
    def read_json(self, path: Path, max_bytes: int) -> dict[str, Any] | None:
        """A small JSON run log, or None when absent; oversized or invalid files say so."""
        try:
            size = path.stat().st_size
        except OSError:
            return None
        if size > max_bytes:
            return {"unreadable": f"{path.name} is {size} bytes, over the {max_bytes}-byte cap"}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return {"unreadable": f"{path.name}: {type(exc).__name__}"}
        return data if isinstance(data, dict) else {"value": data}

    def list_dir(self, directory: DataPath, max_entries: int) -> tuple[list[files.DirEntry], bool]:
        """Up to max_entries entries of one directory (not recursive); True when cut short."""
        return files.list_dir(directory, max_entries)
