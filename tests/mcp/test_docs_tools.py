"""docs/mcp.md documents exactly the tools the server lists: each listed tool has its name
in the page, and every tool name the page shows (a `get_...`/`list_...` word in code or a
heading) is one the server answers, so an agent's author never looks for a tool that is gone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcp_client import McpSession, server_params


@pytest.fixture(scope="module")
def mcp(store: Path, session_factory: Any) -> McpSession:
    return session_factory(server_params(store, "--allow-raw"))


def test_docs_name_every_tool_and_only_real_ones(mcp: McpSession) -> None:
    tools = {tool.name for tool in mcp.run(lambda c: c.list_tools()).tools}
    assert len(tools) >= 14
    text = Path("docs/mcp.md").read_text(encoding="utf-8")
    words = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", text))
    assert sorted(tools - words) == [], "tools docs/mcp.md does not mention"
    shown = set(re.findall(r"`((?:get|list|run)_[a-z_]+)`", text))
    shown |= set(re.findall(r"^#+ .*?\b((?:get|list|run)_[a-z_]+)\b", text, re.M))
    shown |= set(re.findall(r"^#+ (?:[\w ]+: )?((?:get|list|run)_[a-z_]+)", text, re.M))
    assert sorted(shown - tools) == [], "docs/mcp.md names tools the server does not have"
