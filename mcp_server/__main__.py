"""`python -m mcp_server`: same as `opt-data-mcp`."""

from mcp_server.cli import main

main()
