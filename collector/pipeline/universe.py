"""Which universe entries a run covers: the view's universe file, or the symbols named."""

from __future__ import annotations

from collector.pipeline.errors import InputError
from shared.config import AppConfig
from shared.storage import check_symbol
from shared.universe import (
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
    """The universe entries to run: all of the view's universe file, or the named subset.

    A named symbol that is not in the universe file is still allowed (the operator may
    narrow or widen a run); it gets no conid and is qualified at discovery.
    """
    try:
        universe = {e.symbol: e for e in read_universe(universe_file(cfg, view))}
    except UniverseError as exc:
        raise InputError(str(exc)) from None
    if symbols_arg is None or symbols_arg == "" or symbols_arg == []:
        return list(universe.values())
    text = symbols_arg if isinstance(symbols_arg, str) else ",".join(symbols_arg)
    return [universe.get(name) or default_entry(name) for name in parse_symbols(text)]
