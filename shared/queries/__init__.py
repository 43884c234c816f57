"""The read side's query functions, used by the MCP server and the operator console alike.

Pure queries: validated arguments in, a JSON-ready dict with `meta` out, over a
ServerContext (context.py) that opens the data root and the ledger read-only. Nothing here
imports the collector or the MCP server (tests/unit/test_dependency_rule.py).
"""
