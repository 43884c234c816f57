"""`opt-data capacity`: the pacing arithmetic, counts from contract caches, exit codes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from collector.cli.main import app
from collector.ops.capacity import estimate_per_symbol, plan_capacity
from shared.config import load_config
from shared.storage import Layout
from tests.support.config import tmp_config


def test_one_login_is_bound_by_messages_or_by_lines(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    msgs = cfg.ib.max_messages_per_sec / 1.05  # per second, the engine's window
    fast = plan_capacity(cfg, 42_000, dwell_sec=2.0)
    # worked by hand: a request and a cancel per contract
    assert abs(fast.contracts_per_sec - msgs / 2) < 1e-9 and fast.bound_by == "messages"
    assert abs(fast.seconds_per_slot - 42_000 / (msgs / 2)) < 1e-6
    window = cfg.schedule.slot_interval_minutes * 60
    assert fast.shards == -(-fast.seconds_per_slot // (0.9 * window))  # ceil
    slow = plan_capacity(cfg, 42_000, dwell_sec=10.0)
    assert slow.bound_by == "lines" and slow.contracts_per_sec == cfg.snapshot.max_lines / 10.0
    assert plan_capacity(cfg, 0).shards == 1


def test_the_cli_counts_cached_contracts_and_fails_when_logins_are_short(tmp_path: Path) -> None:
    path = tmp_config(tmp_path)
    cfg = load_config(path, env={})
    layout = Layout.from_config(cfg)
    day = date(2026, 11, 20)
    cache = layout.contract_cache_file("AAPL", day)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"contracts": [{}] * 37}))
    out = CliRunner().invoke(
        app, ["capacity", "--config", str(path), "--date", day.isoformat(), "--json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    by = {s["symbol"]: s for s in doc["symbols"]}
    assert by["AAPL"]["contracts"] == 37 and by["AAPL"]["source"] == "cache 2026-11-20"
    others = [s for s in doc["symbols"] if s["symbol"] != "AAPL"]
    assert others and all(s["contracts"] == estimate_per_symbol(cfg) for s in others)
    assert doc["contracts"] == sum(s["contracts"] for s in doc["symbols"])
    big = CliRunner().invoke(app, ["capacity", "--config", str(path), "--contracts", "200000"])
    assert big.exit_code == 1 and "cannot finish a slot" in big.output
    assert "-> 6 login(s)" in big.output  # 200,000 / 23.33/s = 8,571 s over 1,620 s usable
    enough = CliRunner().invoke(
        app, ["capacity", "--config", str(path), "--contracts", "200000", "--logins", "6"]
    )
    assert enough.exit_code == 0
    bad = CliRunner().invoke(app, ["capacity", "--config", str(path), "--dwell", "-1"])
    assert bad.exit_code == 2 and "--dwell must be > 0" in bad.output


def test_the_estimate_counts_the_wing_strikes_the_shipped_selection_adds() -> None:
    """config/opt-data.toml adds wing strikes (discovery.wing_moneyness) to the near ones:
    on a dense strike grid discovery then keeps max_strikes_per_expiry strikes per expiry,
    and the estimate that sizes the logins must count them (it once counted 6, not 10)."""
    from collector.pipeline.selection import StrikeRules, select_strikes

    cfg = load_config("config/opt-data.toml", env={})
    d = cfg.discovery
    assert d.wing_moneyness, "the shipped config has wings"
    rules = StrikeRules(d.strikes_per_side, d.max_strikes_per_expiry, d.moneyness, d.wing_moneyness)
    grid = [float(k) for k in range(50, 151)]  # 1-point strikes around a 100 reference
    chosen = select_strikes(grid, 100.0, rules)
    expiries = d.near_weeklies + d.monthlies + d.quarterlies
    assert estimate_per_symbol(cfg) == expiries * len(chosen) * 2
    no_wings = StrikeRules(d.strikes_per_side, d.max_strikes_per_expiry, d.moneyness, ())
    assert len(select_strikes(grid, 100.0, no_wings)) < len(chosen)
