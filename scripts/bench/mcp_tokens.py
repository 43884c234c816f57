"""What a chain row costs an agent: characters and tokens, in the old reply format and the new.

Before (the server up to the compact replies): rows as JSON objects with repeated keys,
27 default columns for daily_clean, pretty-printed by the SDK with indent=2. After: one reply of
get_chain_sample as the server sends it now (compact text, `columns` once, one array per
row, the default fields), and the old 24 columns in the new format to separate what
the format saves from what the smaller default set saves.

Tokens are counted two ways: characters / 4 (the usual rule of thumb), and with a real
BPE tokenizer when one is available offline. tiktoken cannot load its encodings without
network access; the legacy Claude tokenizer (tokenizer.json, shipped inside the
`anthropic` package up to 0.34.x) loads with `tokenizers` offline:

    pip install tokenizers anthropic==0.34.2    # into any venv; then
    python -m scripts.bench.mcp_bench --tokenizer-json .../site-packages/anthropic/tokenizer.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from shared.queries.results import json_ready

# get_chain_sample's default columns on daily_clean before the compact replies (commit 7b28c69).
OLD_DEFAULT_COLUMNS = [
    "trade_date", "slot", "sample_time", "underlying", "conid", "local_symbol", "expiry", "strike",
    "right", "bid", "ask", "last", "mid", "volume", "iv", "delta", "gamma", "vega", "theta",
    "und_price", "open_interest", "market_data_type", "delayed_fallback", "data_quality_flags",
    "rollup_strategy", "rollup_source_slot", "oi_asof_date",
]  # fmt: skip


class Counter:
    """chars/4 always; a real tokenizer when a tokenizer.json is given and `tokenizers` loads."""

    def __init__(self, tokenizer_json: Path | None) -> None:
        self.name = "chars/4"
        self._tok: Any = None
        if tokenizer_json is not None:
            try:
                from tokenizers import Tokenizer  # type: ignore[import-not-found]

                self._tok = Tokenizer.from_file(str(tokenizer_json))
                self.name = f"BPE ({tokenizer_json.parent.name}/{tokenizer_json.name})"
            except Exception as exc:
                print(f"tokenizer not used ({type(exc).__name__}: {exc})")

    def tokens(self, text: str) -> int | None:
        return len(self._tok.encode(text).ids) if self._tok is not None else None


def old_reply_rows(path: Path, n: int) -> tuple[str, int]:
    """The rows part of the old reply for the first n rows of a daily_clean file."""
    frame = pl.read_parquet(path, columns=OLD_DEFAULT_COLUMNS).head(n)
    rows = json_ready(frame).to_dicts()
    return json.dumps(rows, indent=2, ensure_ascii=False), len(rows)


def new_format_rows(path: Path, n: int, columns: list[str]) -> tuple[str, int]:
    frame = json_ready(pl.read_parquet(path, columns=columns).head(n))
    rows = [list(r) for r in frame.rows()]
    return json.dumps({"columns": columns, "rows": rows}, separators=(",", ":")), len(rows)


def per_row_table(samples: dict[str, tuple[str, int]], counter: Counter) -> str:
    lines = [
        "| format | rows | chars per row | tokens per row (chars/4) | tokens per row (BPE) | 1,000 rows (BPE tokens) |",
        "|---|---|---|---|---|---|",
    ]
    for label, (text, n) in samples.items():
        tok = counter.tokens(text)
        bpe = f"{tok / n:.1f}" if tok is not None else "n/a"
        thousand = (
            f"{tok / n * 1000:,.0f}"
            if tok is not None
            else f"~{len(text) / n / 4 * 1000:,.0f} (chars/4)"
        )
        lines.append(
            f"| {label} | {n} | {len(text) / n:.0f} | {len(text) / n / 4:.1f} | {bpe} | {thousand} |"
        )
    lines.append(f"\ntokenizer: {counter.name}")
    return "\n".join(lines)


def reply_rows_text(reply: dict[str, Any]) -> tuple[str, int]:
    """The `columns` + `rows` part of a get_chain_sample reply, as the server wrote it."""
    part = {"columns": reply["columns"], "rows": reply["rows"]}
    return json.dumps(part, separators=(",", ":"), ensure_ascii=False), len(reply["rows"])
