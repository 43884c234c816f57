"""The runbook's `[acquisition] mode` and `market_data_type` are checked, never ignored: the
values the collector really uses load, anything else is one line naming the key that works."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, load_config


def _config(tmp_path: Path, ib_extra: str, acquisition: str) -> Path:
    path = tmp_path / "config" / "opt-data.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        f'[ib]\nhost = "127.0.0.1"\nport = 4002\n{ib_extra}\n[paths]\ndata = "d"\n'
        f'[universe]\nfile = "u.csv"\n[acquisition]\n{acquisition}\n',
        encoding="utf-8",
    )
    return path


def _error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    assert "\n" not in str(info.value)
    return str(info.value)


def test_the_templates_values_load_and_the_environment_still_chooses_the_type(
    tmp_path: Path,
) -> None:
    path = _config(tmp_path, "", 'mode = "snapshot"\nmarket_data_type = 1')
    assert load_config(path, env={}).ib.market_data_type == 1
    # IB_MARKET_DATA_TYPE overrides ib.market_data_type; the file's restated 1 does not block it
    assert load_config(path, env={"IB_MARKET_DATA_TYPE": "3"}).ib.market_data_type == 3
    both = _config(tmp_path / "b", "market_data_type = 3", "market_data_type = 3")
    assert load_config(both, env={}).ib.market_data_type == 3


def test_a_delayed_type_set_only_under_acquisition_is_refused_naming_ib(tmp_path: Path) -> None:
    message = _error(_config(tmp_path, "", "market_data_type = 3"))
    assert "acquisition.market_data_type = 3" in message
    assert "ib.market_data_type = 1" in message and "IB_MARKET_DATA_TYPE" in message


def test_streaming_mode_is_refused_naming_the_streaming_command(tmp_path: Path) -> None:
    message = _error(_config(tmp_path, "", 'mode = "streaming"'))
    assert "acquisition.mode = 'streaming'" in message and "opt-data streaming" in message
