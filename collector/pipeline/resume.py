"""Resuming a slot after a killed run, and --retry-missed: what to keep, what to collect.

A run killed mid-slot leaves its ledger row `running`; the next run of the same slot
(holding the slot lock, so the old one is dead) skips the underlyings that run already
wrote and reuses its ingest_id, so one slot keeps one ingest id. A file the killed run wrote
but could not record is complete (writes are atomic) and is recorded now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from collector.ib import OptionContract
from collector.pipeline.run import Run, RunContext
from collector.pipeline.store import (
    CorruptFile,
    Quarantined,
    quarantine,
    read_slot_rows,
    read_table,
    report_corrupt,
    write_chain_record,
)
from shared import schema as S
from shared.ledger import INTERRUPTED, LedgerReader

# Rows with one of these flags are collected again by --retry-missed.
RETRY_FLAGS = (S.FLAG_SLOT_RETRY_EXCEEDED, S.FLAG_MISSING_QUOTE, S.FLAG_TIMEOUT)


@dataclass
class Resume:
    ingest_id: str
    skip: set[str] = field(default_factory=set)  # underlyings a dead run already wrote
    kept: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # --retry-missed rows
    quarantined: list[str] = field(default_factory=list)  # corrupt slot files moved aside

    def todo(self, plan: dict[str, list[OptionContract]]) -> dict[str, list[OptionContract]]:
        """The contracts still to collect: not in a skipped file, not among the kept rows."""
        out: dict[str, list[OptionContract]] = {}
        for sym, contracts in plan.items():
            if sym in self.skip:
                continue
            have = {r["conid"] for r in self.kept.get(sym, [])}
            out[sym] = [c for c in contracts if c.conid not in have]
        return out


def resume_slot(run: Run, ctx: RunContext, symbols: list[str], retry_missed: bool) -> Resume:
    """Look at the ledger and the slot's files; mark the dead runs failed: interrupted."""
    reader = LedgerReader(run.layout.ledger)
    dead = reader.resume_chain(run.task, run.trade_date, run.slot, shard=ctx.shard)
    chain = [r for r in dead if r != ctx.run_id]
    done = reader.underlyings_written_by(run.view, run.trade_date, run.slot, chain)
    resume = Resume(ingest_id=ctx.run_id)
    for sym in symbols:
        try:
            existing = read_table(run.chain_file(sym))
        except CorruptFile as exc:
            # a bad disk or copy: move the file aside, forget it, and collect the slot anew
            moved = Quarantined(exc.path, quarantine(exc.path), exc.reason)
            report_corrupt(
                run.layout, run.task, run.trade_date, [moved], slot=run.slot, run_id=ctx.run_id
            )
            ctx.ledger.forget_partition(run.view, run.trade_date, sym, run.slot)
            ctx.runlog.event("quarantined", underlying=sym, path=str(moved.moved_to))
            resume.quarantined.append(moved.line())
            done.discard(sym)
            continue
        if existing is None:
            if retry_missed:  # a compacted day keeps the slot's rows in compacted.parquet
                resume.kept[sym] = _good_rows(_compacted_rows(run, sym))
            continue
        file_ingest = str(existing.column("ingest_id")[0].as_py()) if existing.num_rows else None
        if chain and file_ingest in chain and sym not in done:
            rec = write_chain_record(run.layout, run.view, run.trade_date, sym, run.slot, existing)
            ctx.ledger.record_partition(rec, file_ingest)
            done.add(sym)
        if sym in done and file_ingest:
            resume.ingest_id = file_ingest
        if retry_missed:
            resume.kept[sym] = _good_rows(existing)
    for run_id in chain:
        ctx.ledger.finish_run(
            run_id, "failed", error_summary=f"{INTERRUPTED}; resumed by {ctx.run_id}"
        )
    resume.skip = done if chain else set()
    return resume


def _good_rows(table: pa.Table | None) -> list[dict[str, Any]]:
    """The rows --retry-missed keeps: those without a flag that asks for another try."""
    if table is None:
        return []
    return [r for r in table.to_pylist() if not set(r["data_quality_flags"]) & set(RETRY_FLAGS)]


def _compacted_rows(run: Run, sym: str) -> pa.Table | None:
    """The slot's rows in the day's compacted file. An unreadable one keeps nothing here: the
    writer, which must read it to merge the slot in, meets it next and fails naming it."""
    try:
        return read_slot_rows(run.layout, run.view, run.trade_date, sym, run.slot)
    except CorruptFile:
        return None
