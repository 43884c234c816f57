"""docs/data-contract.md documents every stored column, view and flag of shared/schema.py."""

from __future__ import annotations

import re
from pathlib import Path

from shared import schema as S
from shared.storage import CHAIN_VIEWS

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def documented_names() -> set[str]:
    names: set[str] = set()
    for span in re.findall(r"`([^`]+)`", DOC.read_text(encoding="utf-8")):
        names.update(part.strip() for part in span.split(","))
    return names


def test_every_column_and_flag_is_documented() -> None:
    names = documented_names()
    for schema in (S.SNAPSHOT_SCHEMA, S.DAILY_CLEAN_SCHEMA, S.HISTORY_SCHEMA, S.STREAMING_SCHEMA):
        missing = [f.name for f in schema if f.name not in names]
        assert missing == [], f"undocumented columns: {missing}"
    assert [f for f in S.ALL_FLAGS if f not in names] == []
    assert [s for s in S.ROLLUP_STRATEGIES if s not in names] == []
    text = DOC.read_text(encoding="utf-8")
    assert all(f"view={v}" in text for v in CHAIN_VIEWS)
