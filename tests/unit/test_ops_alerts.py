"""Alerts: apprise to a real HTTP receiver on 127.0.0.1; URLs from config and environment,
secrets masked in repr and logs; an unreachable target never raises."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collector.ops.alerts import ENV_URLS, Event, alert_urls, masked, notify
from shared.config import load_config
from tests.support.config import tmp_config
from tests.support.receiver import alert_receiver


def with_urls(tmp_path: Path, *urls: str) -> Path:
    """The test config with `[alerts] urls` set."""
    path = tmp_config(tmp_path)
    listed = ", ".join(f'"{u}"' for u in urls)
    path.write_text(path.read_text().replace("urls = []", f"urls = [{listed}]"))
    return path


def test_an_alert_reaches_the_receiver_with_event_title_and_body(tmp_path: Path) -> None:
    with alert_receiver() as rx:
        cfg = load_config(with_urls(tmp_path, rx.url), env={})
        assert notify(cfg, Event.SELFCHECK_FAIL, "2026-11-27 FAIL", "2 slots missed", env={})
    assert len(rx.messages) == 1
    msg = rx.messages[0]
    assert msg["title"] == "opt-data selfcheck_fail: 2026-11-27 FAIL"
    assert msg["message"] == "2 slots missed"
    assert msg["type"] == "failure"


def test_urls_come_from_the_environment_too(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    with alert_receiver() as rx:
        assert notify(cfg, "delayed_fallback", "ratio 0.3", "above 0.10", env={ENV_URLS: rx.url})
    assert rx.messages[0]["type"] == "warning"
    assert rx.titles() == ["opt-data delayed_fallback: ratio 0.3"]


def test_no_url_sends_nothing(tmp_path: Path) -> None:
    cfg = load_config(tmp_config(tmp_path), env={})
    assert alert_urls(cfg, env={}) == []
    assert notify(cfg, Event.DAEMON_CRASH, "x", "y", env={}) is False


def test_secrets_are_masked_in_repr_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "https://hooks.slack.com/services/T1234ABCD/B5678EFGH/s3cr3tTokenValue42"
    cfg = load_config(with_urls(tmp_path, secret), env={})
    assert "s3cr3tTokenValue42" not in repr(cfg) and "s3cr3tTokenValue42" not in str(cfg.alerts)
    assert "s3cr3tTokenValue42" not in masked("slack://T1234ABCD/B5678EFGH/s3cr3tTokenValue42")
    # a refused connection: logged without the password, never raised
    plain = load_config(tmp_config(tmp_path), env={})
    dead = "json://user:pa55word@127.0.0.1:9/alerts"
    with caplog.at_level(logging.WARNING):
        assert notify(plain, Event.TASK_FAILED, "t", "b", env={ENV_URLS: dead}) is False
    assert "pa55word" not in caplog.text and "s3cr3tTokenValue42" not in caplog.text
