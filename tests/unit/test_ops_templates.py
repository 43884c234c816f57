"""The systemd and launchd templates: ET everywhere, and commands the CLI really has."""

from __future__ import annotations

import configparser
import plistlib
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli.main import app

OPS = Path("scripts/ops")
SYSTEMD = sorted((OPS / "systemd").iterdir())
LAUNCHD = sorted((OPS / "launchd").glob("*.plist"))


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def _opt_data_args(words: list[str]) -> list[str]:
    """The arguments after `opt-data` in a command (inside `/bin/sh -c '...'` too)."""
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(words[2].replace(";", " ; "))
    start = next(i for i, w in enumerate(words) if w.endswith("/opt-data") or w == "opt-data")
    end = next((i for i, w in enumerate(words[start:], start) if w == ";"), len(words))
    return words[start + 1 : end]


def test_every_template_is_there() -> None:
    names = {p.name for p in SYSTEMD} | {p.name for p in LAUNCHD}
    for expected in (
        "opt-data-scheduler.service",
        "opt-data-scheduler-daily.service",
        "opt-data-scheduler-daily.timer",
        "opt-data-streaming.service",
        "opt-data-streaming.timer",
        "org.opt-data.scheduler.plist",
        "org.opt-data.scheduler.timer.plist",
        "org.opt-data.streaming.plist",
    ):
        assert expected in names


@pytest.mark.parametrize(
    "path", [p for p in SYSTEMD if p.suffix == ".service"], ids=lambda p: p.name
)
def test_systemd_services_run_in_new_york_time(path: Path) -> None:
    service = _unit(path)["Service"]
    assert "TZ=America/New_York" in service.get("Environment", "") or any(
        line.strip() == "Environment=TZ=America/New_York" for line in path.read_text().splitlines()
    )
    assert "opt-data" in service["ExecStart"]


@pytest.mark.parametrize("path", [p for p in SYSTEMD if p.suffix == ".timer"], ids=lambda p: p.name)
def test_systemd_timers_fire_in_new_york_time(path: Path) -> None:
    timer = _unit(path)["Timer"]
    assert timer["OnCalendar"].endswith("America/New_York") and timer["OnCalendar"].startswith(
        "Mon..Fri"
    )
    assert (OPS / "systemd" / timer["Unit"]).is_file()


@pytest.mark.parametrize("path", LAUNCHD, ids=lambda p: p.name)
def test_launchd_plists_parse_and_set_tz(path: Path) -> None:
    doc = plistlib.loads(path.read_bytes())
    assert doc["EnvironmentVariables"]["TZ"] == "America/New_York"
    assert doc["Label"] == path.name.removesuffix(".plist")
    assert "StartCalendarInterval" in doc or doc.get("KeepAlive")


def _commands() -> list[list[str]]:
    out = []
    for path in SYSTEMD:
        if path.suffix == ".service" and "/opt-data " in _unit(path)["Service"]["ExecStart"]:
            out.append(_opt_data_args(shlex.split(_unit(path)["Service"]["ExecStart"])))
    for path in LAUNCHD:
        out.append(_opt_data_args(plistlib.loads(path.read_bytes())["ProgramArguments"]))
    return out


@pytest.mark.parametrize("args", _commands(), ids=lambda a: " ".join(a[:3]))
def test_template_commands_are_accepted_by_the_cli(args: list[str], tmp_path: Path) -> None:
    # --help after the real options: typer parses the command line, then prints usage and exits 0
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)


@pytest.mark.parametrize(
    "path",
    [p for p in SYSTEMD if p.suffix == ".service" and "alert@" not in p.name],
    ids=lambda p: p.name,
)
def test_systemd_services_alert_on_failure(path: Path) -> None:
    hook = _unit(path)["Unit"]["OnFailure"]
    assert hook == "opt-data-alert@%n.service"
    alert = _unit(OPS / "systemd" / "opt-data-alert@.service")["Service"]
    args = _opt_data_args(shlex.split(alert["ExecStart"]))
    assert args[:2] == ["alert", "daemon_crash"]


@pytest.mark.parametrize("path", LAUNCHD, ids=lambda p: p.name)
def test_launchd_logs_are_named_as_the_runbook_says(path: Path) -> None:
    doc = plistlib.loads(path.read_bytes())
    out, err = Path(doc["StandardOutPath"]).name, Path(doc["StandardErrorPath"]).name
    assert out.startswith("launchd_") and out.endswith("_stdout.log")
    assert err.startswith("launchd_") and err.endswith("_stderr.log")
    runbook = Path("docs/ops-runbook.md").read_text(encoding="utf-8")
    assert out in runbook and err in runbook
