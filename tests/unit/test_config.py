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
    assert (cfg.ib.max_messages_per_sec, cfg.snapshot.max_lines) == (49.0, 100)
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
    # the variable is named: the file's own value may be fine
    assert message.startswith("bad IB_MARKET_DATA_TYPE='5' (overrides 'ib.market_data_type'")


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


@pytest.mark.parametrize(
    ("section", "line", "replacement"),
    [
        ("[rate_limits.snapshot]", "per_minute = 30", "use ib.max_messages_per_sec"),
        ("[rate_limits.snapshot]", "max_concurrent_snapshots = 14", "use snapshot.max_lines"),
        ("[snapshot]", "batch_size = 50", "use snapshot.max_lines"),
        ("[rollup]", 'close_slot = "16:00"', "the session's real last slot"),
        ("[enrichment]", 'run_time = "04:30"', "use schedule.enrichment_time"),
        ("[streaming]", 'stop_time = "16:15"', "15 min after the session's close"),
    ],
)
def test_retired_keys_are_rejected_naming_their_replacement(
    tmp_path: Path, section: str, line: str, replacement: str
) -> None:
    path = write(tmp_path, f"{MINIMAL}\n{section}\n{line}\n")
    message = one_line_error(path)
    key = line.split(" =")[0]
    assert f".{key}' in" in message and "is no longer read" in message and replacement in message


def test_every_key_of_the_templates_is_read_somewhere() -> None:
    """No silently ignored config: each key of the model is used outside shared/config.py."""
    from pydantic import BaseModel

    def keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
        out = []
        for name, f in model.model_fields.items():
            ann = f.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                out += keys(ann, f"{prefix}{name}.")
            else:
                out.append((f"{prefix}{name}", name))
        return out

    sources = [
        p.read_text(encoding="utf-8")
        for folder in ("collector", "mcp_server", "shared")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "config.py" or p.parent.name != "shared"
    ]
    # read through a method (pool_range, ...) or as the model's own fixed value
    indirect = {"ib.client_id_pool", "paths.root", "discovery.policy", "schedule.timezone"}
    unused = [
        full
        for full, name in keys(AppConfig)
        if full not in indirect and not any(f".{name}" in text for text in sources)
    ]
    assert unused == []


def test_dotenv_in_the_project_root_is_loaded_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINIMAL)
    (tmp_path / ".env").write_text(
        "IB_PORT=4111\nIB_HOST=10.1.2.3\nOPT_DATA_ALERT_URLS=json://127.0.0.1:9/x\n"
    )
    for var in ("IB_PORT", "OPT_DATA_ALERT_URLS"):  # restored (unset) after the test
        monkeypatch.setenv(var, "-")
        monkeypatch.delenv(var)
    monkeypatch.setenv("IB_HOST", "127.0.0.1")  # set by the shell: wins over .env
    cfg = load_config(path)
    assert (cfg.ib.port, cfg.ib.host) == (4111, "127.0.0.1")
    import os

    assert os.environ["OPT_DATA_ALERT_URLS"] == "json://127.0.0.1:9/x"
