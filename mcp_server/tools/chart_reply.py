"""`chart=true`: the reply's JSON plus a PNG as image content (charts: shared/charts.py)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp_types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from shared.queries.results import compact_json

Chart = Annotated[
    bool, Field(description="Also return a PNG chart as image content (default false).")
]


async def reply(payload: dict[str, Any], draw: Callable[[], bytes] | None) -> CallToolResult:
    """The JSON as text and structuredContent, plus the chart as image content when asked
    (drawn in a worker thread: a chart takes a few hundred ms of CPU)."""
    content: list[Any] = [TextContent(type="text", text=compact_json(payload))]
    if draw is not None:
        png = await anyio.to_thread.run_sync(draw)
        content.append(
            ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png")
        )
    return CallToolResult(content=content, structured_content=payload)


async def with_chart(result: CallToolResult, draw: Callable[[], bytes]) -> CallToolResult:
    """A finished reply (run_query's) plus the chart as image content."""
    png = await anyio.to_thread.run_sync(draw)
    image = ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png")
    return result.model_copy(update={"content": [*result.content, image]})


def column(table: dict[str, Any], name: str) -> list[Any]:
    """One column of a reply's {columns, rows} table."""
    i = table["columns"].index(name)
    return [row[i] for row in table["rows"]]


def title(partition: dict[str, Any], what: str) -> str:
    slot = f" {partition['slot']}" if partition.get("slot") else ""
    return f"{partition['symbol']} {what} {partition['view']} {partition['date']}{slot}"
