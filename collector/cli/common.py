"""Helpers every command shares: config loading, one-line errors, exit codes."""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from shared.calendar import RELATIVE_DATES, parse_trade_date

if TYPE_CHECKING:  # config (pydantic) and storage (pyarrow) load when a command runs
    from shared.config import AppConfig

EXIT_FAILURE = 1  # the task ran and failed (selfcheck FAIL, logscan over threshold, ...)
EXIT_USAGE = 2  # bad input: config, arguments, dates, symbols

DEFAULT_CONFIG = Path("config/opt-data.toml")
ConfigOption = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Config TOML file.")
DateOption = typer.Option(
    "today", "--date", help=f"Trade date (ET): YYYY-MM-DD or {RELATIVE_DATES}."
)
ShardOption = typer.Option(
    None,
    "--shard",
    help="This collector's shard i/N of the universe (default: [shard] in config).",
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit; nothing else is written."""
    typer.echo(f"opt-data: error: {message}", err=True)
    raise typer.Exit(code)


def load_cfg(path: Path, shard: str | None = None) -> AppConfig:
    """The config, with `--shard i/N` (when given) in place of its [shard] section."""
    from shared.config import ConfigError, ShardConfig, load_config
    from shared.universe import Shard

    try:
        cfg = load_config(path)
    except ConfigError as exc:
        fail(str(exc))
    _probe_data_roots(cfg)
    if shard is None:
        return cfg
    try:
        part = Shard.parse(shard)
    except ValueError as exc:
        fail(f"--shard: {exc}")
    return cfg.model_copy(update={"shard": ShardConfig(index=part.index, count=part.count)})


def _probe_data_roots(cfg: AppConfig) -> None:
    """An object-store data root answers before the command runs (one request), else one
    line and exit 2. A local root costs a few stats (a file where its folder should be)."""
    for root in dict.fromkeys(r for r in (cfg.paths.raw, cfg.paths.clean) if r is not None):
        check_data_root(root)


def check_data_root(text: str | Path) -> None:
    """A data root given as text (config or option): well-formed and, if a URI, reachable."""
    from shared.datafs import DataRootError, data_root, probe

    try:
        probe(data_root(text))
    except DataRootError as exc:
        fail(str(exc))


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def parse_date_arg(text: str) -> date:
    try:
        return parse_trade_date(text)
    except ValueError as exc:
        fail(str(exc))


def parse_symbols_arg(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    from shared.storage import check_symbol

    try:
        return tuple(dict.fromkeys(check_symbol(s) for s in text.split(",") if s.strip()))
    except ValueError as exc:
        fail(str(exc))
