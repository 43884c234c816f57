"""Universe files: the one reader of `symbol,conid,sec_type,exchange,currency` CSVs.

The collector (what to collect), the checks (who is expected) and the read side (what a
view should hold) all read the same files the same way: blank symbols and lines whose
symbol starts with `#` (a symbol switched off) are skipped; anything else malformed is a
UniverseError naming the file and line.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from shared.config import AppConfig
from shared.storage import check_symbol

# Cash-settled indexes: their options trade on CBOE and the underlying is an IND contract.
INDEX_SYMBOLS = frozenset({"SPX", "NDX", "VIX", "RUT", "XSP", "DJX", "OEX"})


class UniverseError(ValueError):
    """A universe file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str
    conid: int | None
    sec_type: str  # STK | IND
    exchange: str
    currency: str


def default_entry(symbol: str) -> UniverseEntry:
    """The entry of a symbol not listed in a universe file (qualified at discovery)."""
    if symbol in INDEX_SYMBOLS:
        return UniverseEntry(symbol, None, "IND", "CBOE", "USD")
    return UniverseEntry(symbol, None, "STK", "SMART", "USD")


def universe_file(cfg: AppConfig, view: str) -> Path:
    """The file listing a view's symbols: close_file / intraday_file when set, else file."""
    u = cfg.universe
    if view == "close" and u.close_file:
        return u.close_file
    if view == "intraday" and u.intraday_file:
        return u.intraday_file
    return u.file


def read_universe(path: Path) -> list[UniverseEntry]:
    if not path.is_file():
        raise UniverseError(f"universe file not found: {path}")
    entries: list[UniverseEntry] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "symbol" not in reader.fieldnames:
            raise UniverseError(f"universe file {path} has no 'symbol' column")
        for lineno, row in enumerate(reader, start=2):
            raw = (row.get("symbol") or "").strip()
            if not raw or raw.startswith("#"):
                continue
            entry = _entry(path, lineno, raw, row)
            if entry.symbol not in seen:
                seen.add(entry.symbol)
                entries.append(entry)
    if not entries:
        raise UniverseError(f"universe file {path} lists no symbols")
    return entries


def _entry(path: Path, lineno: int, raw: str, row: dict[str, str | None]) -> UniverseEntry:
    where = f"universe file {path} line {lineno}"
    try:
        symbol = check_symbol(raw)
    except ValueError as exc:
        raise UniverseError(f"{where}: {exc}") from None
    conid_text = (row.get("conid") or "").strip()
    try:
        conid = int(conid_text) if conid_text else None
    except ValueError:
        raise UniverseError(f"{where}: bad conid {conid_text!r}") from None
    sec_type = (row.get("sec_type") or "").strip().upper() or "STK"
    if sec_type not in ("STK", "IND"):
        raise UniverseError(f"{where}: sec_type must be STK or IND")
    default_exchange = "CBOE" if sec_type == "IND" else "SMART"
    return UniverseEntry(
        symbol,
        conid,
        sec_type,
        (row.get("exchange") or "").strip().upper() or default_exchange,
        (row.get("currency") or "").strip().upper() or "USD",
    )


def universe_symbols(cfg: AppConfig, view: str) -> list[str]:
    """The symbols a view's universe file lists, in file order."""
    return [e.symbol for e in read_universe(universe_file(cfg, view))]


# --- Shards ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based): the symbols whose stable hash falls on it.

    The hash is SHA-1 of the symbol's bytes, not Python's hash() (salted per process): every
    collector, QA and the MCP server must put a symbol on the same shard, on any host, on
    any day. Adding a symbol moves no other symbol; changing `count` re-deals them all.
    """

    index: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"bad shard {self.index}/{self.count}: expected 1 <= i <= N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`i/N`, e.g. `2/4`; anything else is a ValueError naming the text."""
        head, sep, tail = text.strip().partition("/")
        if not sep or not head.isdigit() or not tail.isdigit():
            raise ValueError(f"bad shard {text!r}: expected i/N, e.g. 1/2")
        return cls(int(head), int(tail))

    @classmethod
    def from_config(cls, cfg: AppConfig) -> Shard:
        return cls(cfg.shard.index, cfg.shard.count)

    @property
    def sharded(self) -> bool:
        return self.count > 1

    @property
    def label(self) -> str:
        """The ledger's `runs.shard`: "" when the universe is not split, else "i/N"."""
        return f"{self.index}/{self.count}" if self.sharded else ""

    @property
    def lock_suffix(self) -> str:
        """What a lock name gains: "" unsharded, "_shard1of2" for shard 1/2 (locks are per
        shard, so two shards run the same slot side by side)."""
        return f"_shard{self.index}of{self.count}" if self.sharded else ""

    def holds(self, symbol: str) -> bool:
        return shard_of(symbol, self.count) == self.index

    def select(self, entries: list[UniverseEntry]) -> list[UniverseEntry]:
        return [e for e in entries if self.holds(e.symbol)]


def shard_of(symbol: str, count: int) -> int:
    """The 1-based shard of `symbol` among `count` shards."""
    if count <= 1:
        return 1
    digest = hashlib.sha1(symbol.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def all_shards(count: int) -> list[Shard]:
    return [Shard(i, count) for i in range(1, count + 1)]


def shard_count(configured: int, labels: list[str]) -> int:
    """How many shards split the universe: the configured count, or more if the ledger's runs
    (labels "i/N") show collectors of a wider split - a reader configured for one shard
    still reports the others' coverage and names the one that is missing."""
    seen = [Shard.parse(label).count for label in labels if label]
    return max([configured, *seen])
