"""Config loading: the two templates, IB_* overrides, one-line errors naming key and file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.config import AppConfig, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
PROD, TEST = ROOT / "config" / "opt-data.toml", ROOT / "config" / "opt-data.test.toml"
MINIMAL = """
[ib]
host = "127.0.0.1"
port = 4002
[paths]
data = "d"
[universe]
file = "config/universe.csv"
"""


@pytest.fixture(autouse=True)
def _no_root_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPT_DATA_ROOT", raising=False)


def write(tmp_path: Path, text: str, name: str = "opt-data.toml") -> Path:
    path = tmp_path / "config" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={} if env is None else env)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_production_template_loads() -> None:
    cfg = load_config(PROD, env={})
    assert isinstance(cfg, AppConfig)
    assert (cfg.ib.host, cfg.ib.port, cfg.ib.client_id_pool) == ("127.0.0.1", 4001, "prod")
    assert cfg.rate_limits.snapshot.per_minute == 30
    assert cfg.rate_limits.snapshot.max_concurrent_snapshots == 14
    assert cfg.acquisition.pacing_backoff_sec == (30, 60, 120, 240)
    assert cfg.paths.data.is_absolute() and cfg.paths.data == ROOT / "data"
    assert cfg.source_file == PROD.resolve()


def test_the_test_template_loads() -> None:
    cfg = load_config(TEST, env={})
    assert (cfg.ib.port, cfg.ib.client_id_pool) == (4002, "test")
    assert cfg.ib.pool_range() == (251, 299)
    assert cfg.paths.data == ROOT / "data_test" and cfg.paths.state == ROOT / "state_test"
    assert cfg.universe.file == ROOT / "config" / "universe.test.csv"


def test_environment_overrides() -> None:
    env = {
        "IB_HOST": "10.1.2.3",
        "IB_PORT": "4010",
        "IB_CLIENT_ID": "7",
        "IB_MARKET_DATA_TYPE": "3",
    }
    cfg = load_config(TEST, env=env)
    assert (cfg.ib.host, cfg.ib.port, cfg.ib.client_id, cfg.ib.market_data_type) == (
        "10.1.2.3",
        4010,
        7,
        3,
    )
    blank = load_config(TEST, env={"IB_PORT": "  "})  # blank means unset
    assert blank.ib.port == 4002


def test_a_bad_environment_value_names_the_key(tmp_path: Path) -> None:
    message = one_line_error(TEST, env={"IB_MARKET_DATA_TYPE": "5"})
    assert "ib.market_data_type" in message and str(TEST) in message


def test_a_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("port = 4002\n", ""))
    message = one_line_error(path)
    assert message == f"missing config key 'ib.port' in {path}"


def test_an_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "\n[snapshot]\nstrikes_per_sied = 3\n")
    message = one_line_error(path)
    assert message == f"unknown config key 'snapshot.strikes_per_sied' in {path}"


@pytest.mark.parametrize(
    "extra, key",
    [
        ("\n[discovery]\npre_open_time = '9:25'\n", "discovery.pre_open_time"),
        ("\n[qa]\noi_fill_min = 1.5\n", "qa.oi_fill_min"),
        ("\n[storage]\ncompression = 'lz4'\n", "storage.compression"),
    ],
)
def test_a_bad_value(tmp_path: Path, extra: str, key: str) -> None:
    path = write(tmp_path, MINIMAL + extra)
    message = one_line_error(path)
    assert message.startswith(f"bad config key '{key}' in {path}")


def test_a_bad_port_value(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("4002", "70000"))
    assert f"bad config key 'ib.port' in {path}" in one_line_error(path)


def test_a_file_that_is_not_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[ib\nhost = ")
    message = one_line_error(path)
    assert str(path) in message and "not valid TOML" in message


def test_a_missing_file(tmp_path: Path) -> None:
    assert "not found" in one_line_error(tmp_path / "nope.toml")


def test_relative_paths_resolve_under_the_project_root(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), env={})
    assert cfg.paths.data == tmp_path / "d"
    assert cfg.paths.contracts_cache == tmp_path / "state" / "contracts_cache"
    assert cfg.mcp.audit_db == tmp_path / "state" / "run_logs" / "mcp_audit.db"


def test_the_cli_exits_2_with_one_stderr_line(tmp_path: Path) -> None:
    bad = write(tmp_path, MINIMAL + "\n[ib]\n", name="bad.toml")  # duplicate table: bad TOML
    done = subprocess.run(
        [str(Path(sys.executable).with_name("opt-data")), "inspect", "paths", "--config", str(bad)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and lines[0].startswith("opt-data: error:")
    assert done.stdout == ""
