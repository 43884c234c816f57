"""What every query needs, built once at start-up from the config and the CLI flags."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from shared.config import AppConfig
from shared.ledger import LedgerReader
from shared.queries.limits import Limits
from shared.queries.paths import DataAccess
from shared.storage import COMPACTED_FILE, RAW_VIEWS, Layout
from shared.universe import UniverseError, universe_symbols

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerContext:
    cfg: AppConfig
    access: DataAccess
    ledger: LedgerReader
    limits: Limits
    universe_intraday: tuple[str, ...]
    universe_close: tuple[str, ...]

    @classmethod
    def build(
        cls, cfg: AppConfig, allow_raw: bool, allow_clean: bool, layout: Layout | None = None
    ) -> ServerContext:
        layout = layout or Layout.from_config(cfg)
        return cls(
            cfg=cfg,
            access=DataAccess(layout, allow_raw=allow_raw, allow_clean=allow_clean),
            ledger=LedgerReader(layout.ledger, keep_open=True),
            limits=Limits.from_config(cfg.mcp),
            universe_intraday=load_universe(cfg, "intraday"),
            universe_close=load_universe(cfg, "close"),
        )

    @property
    def layout(self) -> Layout:
        return self.access.layout

    def universe_for(self, view: str) -> tuple[str, ...]:
        """The symbols a view is expected to hold: intraday list for snapshots, full list else."""
        return self.universe_intraday if view == "intraday" else self.universe_close

    def expected_slots(self, view: str, slots: list[str]) -> list[str]:
        """Slots a view holds per session: every slot for intraday, the close slot otherwise."""
        if view == "intraday":
            return slots
        if view == "close":
            return [slots[-1]]
        return [""]

    def latest_date(self, view: str, symbol: str | None = None) -> date | None:
        return self.ledger.latest_date(view, symbol) or self._latest_date_on_disk(view, symbol)

    def _latest_date_on_disk(self, view: str, symbol: str | None) -> date | None:
        """Without a ledger row: the newest date directory of the view (one bounded listing)."""
        root = self.access.layout.view_root(view)
        entries, _ = self.access.list_dir(root, self.limits.max_dir_entries)
        days = sorted((e.name[5:] for e in entries if e.name.startswith("date=")), reverse=True)
        for text in days:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                continue
            if symbol is None or self.access.layout.underlying_dir(view, day, symbol).is_dir():
                return day
        return None

    def latest_slot(self, view: str, day: date, symbol: str) -> str | None:
        recorded = self.ledger.latest_slot(view, day, symbol)
        if recorded:
            return recorded
        directory = self.access.layout.underlying_dir(view, day, symbol)
        entries, _ = self.access.list_dir(directory, self.limits.max_dir_entries)
        labels = [
            f"{e.name[5:7]}:{e.name[7:9]}"
            for e in entries
            if e.name.startswith("slot=") and e.name.endswith(".parquet")
        ]
        if view in RAW_VIEWS and any(e.name == COMPACTED_FILE for e in entries):
            labels += self._compacted_slots(view, day, symbol)
        return max(labels) if labels else None

    def _compacted_slots(self, view: str, day: date, symbol: str) -> list[str]:
        """Slots held by the day's compacted file (its `slot` column only); none if unreadable."""
        import pyarrow as pa  # here, not at start-up: the server answers initialize first

        from shared.queries.compacted import slot_counts

        path = self.access.compacted_file(view, day, symbol)
        try:
            return list(slot_counts(path))
        except (OSError, pa.ArrowException) as exc:
            log.warning("%s is unreadable: %s", self.access.relative(path), exc)
            return []


def load_universe(cfg: AppConfig, view: str) -> tuple[str, ...]:
    """A view's universe symbols; an unusable file is an empty universe and a warning."""
    try:
        return tuple(universe_symbols(cfg, view))
    except UniverseError as exc:
        log.warning("%s: expected partitions cannot be computed", exc)
        return ()
