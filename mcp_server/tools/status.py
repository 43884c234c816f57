"""Collector status tools: health_overview, run_status_overview, list_recent_runs, get_partition_issues."""

from enum import StrEnum
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from mcp_server.models import (
    Cursor,
    Meta,
    Open,
    OptionalView,
    Reply,
    Table,
    days_arg,
    limit_arg,
)
from mcp_server.tooling import READ_ONLY, run_query
from shared.ledger import RUN_STATUSES
from shared.queries.context import ServerContext
from shared.tasks import Task

# The ledger's run statuses (shared.ledger.RUN_STATUSES) as the schema's enum: an agent reads
# the names in tools/list, and a wrong one is refused naming them rather than matching nothing.
RunStatus = StrEnum("RunStatus", {s: s for s in RUN_STATUSES})  # type: ignore[misc]


# --- replies ----------------------------------------------------------------------------------
class DaySlot(Reply):
    date: str
    slot: str | None


class LastWrite(DaySlot):
    written_at: str | None


class Freshness(Reply):
    status: str = Field(description="fresh, stale or empty")
    expected: DaySlot = Field(description="The newest partition the calendar says should exist.")
    last: LastWrite | None = Field(description="The newest partition the ledger recorded.")
    sessions_behind: int | None = None
    partitions_on_last_date: int | None = None


class ShardCoverage(Reply):
    shard: str = Field(description="i/N: collector i of N splitting the universe.")
    symbols: int
    expected_partitions: int
    written: int
    coverage: float | None


class _WithShards(Reply):
    """Per-shard fields appear only when collectors split the universe (fewer tokens else)."""

    @model_serializer(mode="wrap")
    def _omit_unsharded(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None or k not in _SHARD_KEYS}


_SHARD_KEYS = ("shards", "missing_shards")


class Coverage(_WithShards):
    expected_partitions: int
    written: int
    coverage: float | None
    slots_due: int
    rows: int
    empty_partitions: int
    delayed_ratio: float | None
    greeks_fill: float | None
    quote_fill: float | None
    bytes: int
    shards: list[ShardCoverage] | None = None
    missing_shards: list[str] | None = Field(
        default=None, description="Shards with partitions due and none written."
    )


class SessionInfo(Reply):
    date: str
    early_close: bool
    slots: int


class RunCounts(Reply):
    by_status: dict[str, int]
    recent_problems: list[Open]


class ErrorLog(Reply):
    log: str | None
    bytes: int
    lines: int
    lines_counted_in_first_bytes: int | None = None


class RunLogDoc(Reply):
    date: str | None
    file: str
    summary: Open | None


class Disk(Reply):
    filesystem: dict[str, int] | None
    session_bytes_by_view: dict[str, int]


class HealthReply(Reply):
    as_of: str = Field(description="ET time the answer refers to.")
    session: SessionInfo
    freshness: dict[str, Freshness]
    coverage: dict[str, Coverage]
    runs: RunCounts
    errors: ErrorLog
    selfcheck: RunLogDoc | None
    logscan: RunLogDoc | None
    qa_metrics: RunLogDoc | None
    disk: Disk
    meta: Meta


class DayStatus(Reply):
    date: str
    status: str = Field(description="The worst latest status among the day's tasks, or no_runs.")
    tasks: dict[str, Open]


class RunStatusReply(Reply):
    days: list[DayStatus]
    meta: Meta


class RecentRunsReply(Reply):
    runs: Table
    meta: Meta


class CheckedViewDay(_WithShards):
    date: str
    view: str
    expected: int
    recorded: int
    files: int
    compacted_files: int
    tmp_files: int
    shards: list[ShardCoverage] | None = None


class IssuesReply(Reply):
    summary: dict[str, int] = Field(description="Issue count per kind.")
    checked: list[CheckedViewDay]
    issues: Table
    meta: Meta


# --- tools ------------------------------------------------------------------------------------
def register(server: MCPServer, ctx: ServerContext) -> None:
    lim = ctx.limits

    @server.tool(annotations=READ_ONLY)
    async def health_overview() -> HealthReply:
        """Health of the collected data right now: per view the last slot written against the slot the
        XNYS calendar expected (fresh/stale), the current session's coverage (partitions written vs
        expected from the universe; per shard and missing_shards when collectors split the universe), delayed-data ratio, greeks and quote fill, run status counts, the
        day's error log size, the latest selfcheck report, logscan summary and QA metrics, and disk use."""
        from shared.queries import health

        return await run_query(ctx, health.health_overview)  # type: ignore[no-any-return]

    @server.tool(annotations=READ_ONLY)
    async def run_status_overview(
        days: days_arg(lim.run_status_days.default, lim.run_status_days.maximum) = None,  # type: ignore[valid-type]
    ) -> RunStatusReply:
        """Status of every collector task (snapshot, close-snapshot, rollup, enrichment, qa, ...) per
        session for the last few sessions: run counts by status, the latest status, the last error."""
        from shared.queries import runs

        return await run_query(ctx, runs.run_status_overview, days=days)  # type: ignore[no-any-return]

    @server.tool(annotations=READ_ONLY)
    async def list_recent_runs(
        limit: limit_arg(lim.runs.default, lim.runs.maximum) = None,  # type: ignore[valid-type]
        task: Annotated[
            Task | None,
            Field(description="Only this task (the collector command that ran)."),
        ] = None,
        status: Annotated[RunStatus | None, Field(description="Only this run status.")] = None,
        cursor: Cursor = None,
    ) -> RecentRunsReply:
        """The most recent collector runs from the ledger, newest first, with counts, timings and errors."""
        from shared.queries import runs

        return await run_query(  # type: ignore[no-any-return]
            ctx, runs.list_recent_runs, paged=True, limit=limit,
            task=task.value if task else None, status=status.value if status else None,
        )  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    async def get_partition_issues(
        days: days_arg(lim.days.default, lim.days.maximum) = None,  # type: ignore[valid-type]
        view: OptionalView = None,
        limit: limit_arg(lim.rows.default, lim.rows.maximum) = None,  # type: ignore[valid-type]
        cursor: Cursor = None,
    ) -> IssuesReply:
        """Problems in recent partitions: expected slots that are missing (from calendar and universe; a
        missing_shard when a collector of a split universe wrote nothing),
        empty or corrupt files, leftover *.tmp files, files without ledger rows and the reverse,
        duplicate keys, low quote/greeks fill, delayed rows, rollup fallbacks and missing open interest.
        `summary` counts every issue kind; `issues` lists them newest first up to `limit`."""
        from shared.queries import issues

        return await run_query(  # type: ignore[no-any-return]
            ctx, issues.get_partition_issues, paged=True, days=days,
            view=view.value if view else None, limit=limit,
        )  # fmt: skip
