"""The one notifier: operator alerts through apprise (Slack, email, Telegram, webhooks...).

Configured by URL: `[alerts] urls = [...]` in the config, plus OPT_DATA_ALERT_URLS in the
environment (space or comma separated). URLs carry tokens and passwords, so they stay
SecretStr in the config and only apprise's privacy form (secrets masked) is ever logged.

Sending never raises: an alert that cannot be delivered is logged as a warning and the
caller's exit code and error-log line still tell the truth on their own.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping
from enum import StrEnum
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this module for --help: no pydantic, pyarrow, ib_async
    from collector.pipeline.run import JobResult
    from shared.config import AppConfig

log = logging.getLogger(__name__)
ENV_URLS = "OPT_DATA_ALERT_URLS"


class Event(StrEnum):
    """What an alert is about; the value leads the title so filters can match it."""

    SELFCHECK_FAIL = "selfcheck_fail"
    LOGSCAN_BREACH = "logscan_breach"
    SLOT_RETRY_EXCEEDED = "slot_retry_exceeded"
    SLOT_MISSED = "slot_missed"
    PRECHECK_FAILED = "precheck_failed"
    DISCOVERY_FAILED = "discovery_failed"
    DELAYED_FALLBACK = "delayed_fallback"
    TASK_FAILED = "task_failed"
    DAEMON_CRASH = "daemon_crash"


# warning-type events; the rest are failures
_WARNINGS = frozenset({Event.DELAYED_FALLBACK, Event.SLOT_MISSED})


def alert_urls(cfg: AppConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """Config URLs first, then the environment's; duplicates dropped."""
    environ = os.environ if env is None else env
    urls = [u.get_secret_value() for u in cfg.alerts.urls]
    urls += [u for u in re.split(r"[\s,]+", environ.get(ENV_URLS, "")) if u]
    return list(dict.fromkeys(urls))


def _apprise() -> ModuleType:
    """apprise, imported late (most commands never alert) with its plugins loaded quietly:
    its email plugin imports imghdr, which Python 3.11 flags as deprecated (not ours to fix).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        apprise.Apprise.instantiate("json://127.0.0.1/")  # loads the plugin modules once
    return apprise


def masked(url: str) -> str:
    """A URL safe to print: apprise's privacy form, or the schema alone if apprise cannot parse it."""
    apprise = _apprise()
    plugin = apprise.Apprise.instantiate(url)
    if plugin is not None:
        return str(plugin.url(privacy=True))
    return url.split("://", 1)[0] + "://***"


def notify(
    cfg: AppConfig,
    event: Event | str,
    title: str,
    body: str,
    *,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Send one alert to every configured URL; True when at least one target accepted it.

    No URL configured -> nothing is sent and False is returned (alerts are optional).
    """
    urls = alert_urls(cfg, env)
    if not urls:
        return False
    apprise = _apprise()
    ev = Event(event)
    sender = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
    for url in urls:
        if not sender.add(url):
            log.warning("alerts: cannot use notification URL %s", masked(url))
    if not len(sender):
        return False
    kind = apprise.NotifyType.WARNING if ev in _WARNINGS else apprise.NotifyType.FAILURE
    try:
        ok = bool(sender.notify(title=f"opt-data {ev.value}: {title}", body=body, notify_type=kind))
    except Exception as exc:  # a broken notifier must not turn into a second failure
        log.warning("alerts: sending %s failed: %s", ev.value, type(exc).__name__)
        return False
    if not ok:
        log.warning("alerts: %s was not delivered to %s", ev.value, ", ".join(map(masked, urls)))
    return ok


def job_event(cfg: AppConfig, result: JobResult) -> tuple[Event, str] | None:
    """The alert a finished pipeline job calls for, with its one-line reason, or None."""
    from shared import schema as S

    d = result.details
    if S.FLAG_SLOT_RETRY_EXCEEDED in result.message:
        return Event.SLOT_RETRY_EXCEEDED, result.message
    failed_symbols = d.get("discovery_failed") or {}
    if failed_symbols:
        names = ", ".join(sorted(failed_symbols))
        return Event.DISCOVERY_FAILED, f"discovery failed for {names}"
    if result.status == "failed":
        return Event.TASK_FAILED, result.message
    delayed, total = int(d.get("delayed_fallback") or 0), result.total
    if total and delayed / total > cfg.qa.delayed_ratio_max:
        ratio = delayed / total
        return (
            Event.DELAYED_FALLBACK,
            f"{delayed}/{total} contracts on delayed data ({ratio:.0%} > "
            f"qa.delayed_ratio_max {cfg.qa.delayed_ratio_max:.0%})",
        )
    return None


def alert_job(
    cfg: AppConfig, result: JobResult, where: str, *, env: Mapping[str, str] | None = None
) -> bool:
    """Send the alert a job result calls for; `where` names the run (task, date, slot)."""
    found = job_event(cfg, result)
    if found is None:
        return False
    event, reason = found
    body = f"{where}: {result.status} - {reason} (run {result.run_id})"
    return notify(cfg, event, where, body, env=env)
