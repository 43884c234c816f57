"""Which universe entries a run covers: the view's universe file, or the symbols named."""

from __future__ import annotations

from collector.pipeline.errors import InputError
from shared.config import AppConfig
from shared.storage import check_symbol
from shared.universe import (
    Shard,
    UniverseEntry,
    UniverseError,
    default_entry,
    read_universe,
    universe_file,
)


def parse_symbols(text: str) -> list[str]:
    out: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            sym = check_symbol(part)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if sym not in out:
            out.append(sym)
    if not out:
        raise InputError(f"no symbols in {text!r}")
    return out


def resolve_symbols(
    cfg: AppConfig, symbols_arg: str | list[str] | None, view: str = "intraday"
) -> list[UniverseEntry]:
    """The universe entries to run: this shard's part of the view's universe file, or of
    the named subset.

    A named symbol that is not in the universe file is still allowed (the operator may
    narrow or widen a run); it gets no conid and is qualified at discovery. A symbol of
    another shard is left to that shard's collector: two shards never write one file.
    """
    try:
        universe = {e.symbol: e for e in read_universe(universe_file(cfg, view))}
    except UniverseError as exc:
        raise InputError(str(exc)) from None
    shard = Shard.from_config(cfg)
    if symbols_arg is None or symbols_arg == "" or symbols_arg == []:
        return shard.select(list(universe.values()))
    text = symbols_arg if isinstance(symbols_arg, str) else ",".join(symbols_arg)
    named = [universe.get(name) or default_entry(name) for name in parse_symbols(text)]
    mine = shard.select(named)
    if not mine:
        raise InputError(f"none of {text!r} belongs to shard {shard.label}")
    return mine
