"""The `opt-data` command line: one Typer app, each command group registered from its own module."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from collector.cli import (
    audit,
    capacity,
    checks,
    collect,
    console,
    demo,
    gateway_sim,
    inspect,
    maintenance,
    schedule,
    streaming,
)

app = typer.Typer(
    name="opt-data",
    help="Collect US option chains from Interactive Brokers and serve them read-only over MCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help and errors: rich's formatting costs 0.2 s of imports on every `--help`
    rich_markup_mode=None,
)

for module in (
    inspect,
    gateway_sim,
    collect,
    streaming,
    schedule,
    checks,
    maintenance,
    capacity,
    demo,
    console,
    audit,
):
    module.register(app)


@app.command(
    "mcp-server",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def mcp_server_cmd(ctx: typer.Context) -> None:
    """Run the read-only MCP server (same as `opt-data-mcp`); see `opt-data mcp-server --help`."""
    # Imported lazily: the collector never needs the MCP stack to collect data.
    from mcp_server.cli import main as mcp_main

    mcp_main(list(ctx.args))


def main() -> None:
    try:
        app()
    except Exception as exc:  # the last guard: an unforeseen failure is one line, not a stack
        code = _unforeseen(exc, sys.argv[1:])
        raise SystemExit(code) from None


def _unforeseen(exc: BaseException, argv: list[str]) -> int:
    """One line on stderr; the stack goes to the day's errors log (what logscan reads) when
    the command named a config that loads, so the failure is seen and kept, never lost."""
    command = next((a for a in argv if not a.startswith("-")), "opt-data")
    where = ""
    try:
        config = argv[argv.index("--config") + 1] if "--config" in argv else None
        if config is not None:
            from collector.errorlog import append_error, format_error
            from shared.calendar import today_et
            from shared.config import load_config
            from shared.storage import Layout

            layout = Layout.from_config(load_config(Path(config)))
            day = today_et()
            append_error(layout, day, format_error(command, day, str(exc) or type(exc).__name__,
                                                   exc=exc))  # fmt: skip
            where = f" (stack in {layout.errors_log(day)})"
    except Exception:  # the guard must not fail in turn: the one line still goes out
        where = ""
    text = " ".join(str(exc).split()) or "no message"
    sys.stderr.write(f"opt-data: error: {command}: {type(exc).__name__}: {text}{where}\n")
    return 1


if __name__ == "__main__":
    main()
