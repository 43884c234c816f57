"""Helpers for pipeline tests: a config file under tmp_path pointed at a simulator port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.config import AppConfig, load_config

BASE_TOML = """
[ib]
host = "127.0.0.1"
port = {port}
client_id_pool = "test"
connect_timeout_sec = 5.0
request_timeout_sec = 10.0
max_messages_per_sec = 49.0
reconnect_attempts = 3

[paths]
data = "{root}/data"
state = "{root}/state"

[universe]
file = "{root}/universe.csv"

[acquisition]
pacing_backoff_sec = {backoff}
allow_fallback_to_delayed = {allow_delayed}

[discovery]
strikes_per_side = {strikes}
max_strikes_per_expiry = 10
near_weeklies = {weeklies}
monthlies = {monthlies}
quarterlies = 0

[snapshot]
subscription_timeout_sec = {timeout}
subscription_poll_interval = 0.05
max_lines = {max_lines}

[enrichment]
timeout_sec = {timeout}
"""


def write_config(root: Path, port: int, symbols: list[str] | None = None, **kw: Any) -> AppConfig:
    """A config whose data, state and universe live under `root`; returns it loaded."""
    root.mkdir(parents=True, exist_ok=True)
    symbols = symbols if symbols is not None else ["AAPL"]
    universe = root / "universe.csv"
    universe.write_text(
        "symbol,conid,sec_type,exchange,currency\n" + "".join(f"{s},,,,\n" for s in symbols)
    )
    values = {
        "port": port,
        "root": root,
        "backoff": "[0.2, 0.2, 0.2, 0.2]",
        "allow_delayed": "true",
        "strikes": 2,
        "weeklies": 1,
        "monthlies": 1,
        "timeout": 2.0,
        "max_lines": 100,
    }
    values.update(kw)
    text = BASE_TOML.format(**values)
    path = root / "opt-data.toml"
    path.write_text(text)
    return load_config(path, env={})
