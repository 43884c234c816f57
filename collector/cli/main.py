"""The `opt-data` command line: one Typer app, each command group registered from its own module."""

from __future__ import annotations

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
    app()


if __name__ == "__main__":
    main()
