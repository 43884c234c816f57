"""`opt-data inspect ...`: look at the resolved configuration without touching IB."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from collector.cli.common import ConfigOption, load_cfg

inspect_app = typer.Typer(help="Inspect the resolved configuration.", no_args_is_help=True)


@inspect_app.command("paths")
def inspect_paths(
    config: Path = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print every path the collector reads or writes, resolved from the config."""
    from shared.storage import Layout

    cfg = load_cfg(config)
    paths = Layout.from_config(cfg).as_dict()
    paths["universe"] = str(cfg.universe.file)
    paths["audit_db"] = str(cfg.mcp.audit_db)
    paths["config"] = str(cfg.source_file)
    if as_json:
        typer.echo(json.dumps(paths, indent=2))
        return
    width = max(len(k) for k in paths)
    for key, value in paths.items():
        typer.echo(f"{key.ljust(width)}  {value}")


def register(app: typer.Typer) -> None:
    app.add_typer(inspect_app, name="inspect")
