"""Config builders: the test config with data and state under a test's tmp dir."""

from __future__ import annotations

from pathlib import Path


def tmp_config(tmp_path: Path, extra: str = "", data: str | None = None) -> Path:
    """The test config with data/state under tmp_path (shared by the ops tests); `data`: another
    data root (e.g. the s3:// root of the loopback S3 server)."""
    text = Path("config/opt-data.test.toml").read_text(encoding="utf-8")
    text = text.replace('data = "data_test"', f'data = "{data or tmp_path / "data"}"')
    text = text.replace('state = "state_test"', f'state = "{tmp_path / "state"}"')
    universe = Path("config/universe.test.csv").resolve()
    text = text.replace('file = "config/universe.test.csv"', f'file = "{universe}"')
    path = tmp_path / "opt-data.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path
