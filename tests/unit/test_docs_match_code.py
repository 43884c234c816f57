"""The operator docs name only what exists: every `opt-data` command and flag they show is
one the CLI parses, every config key they name is one the config model has (or one it
rejects as retired, naming the replacement), every `make` target is in the Makefile, and
every TOML example loads into the model's sections. A renamed flag or key then fails here,
not on an operator's terminal."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from collector.cli.main import app
from mcp_server.cli import build_parser
from shared.config import RETIRED_KEYS, AppConfig

DOCS = [Path("README.md"), *sorted(Path("docs").glob("*.md"))]
# Config keys are looked for in the guides; these two describe IB's wire and timings, where
# `ib.sleep` is a method, not the `[ib]` section.
KEY_DOCS = [p for p in DOCS if p.name not in ("tws-wire-subset.md", "benchmarks.md")]
# `qa.py`, `mcp.json`, `ledger.sqlite` are file names that look like keys.
FILE_SUFFIXES = {"py", "json", "sqlite", "db", "md", "csv", "toml", "log", "jsonl", "lock"}

# `opt-data <command> [sub] ...` up to the end of the code span, cell or line.
_COMMAND = re.compile(r"(?<![\w/-])opt-data(-mcp)?((?:[ \t]+[^`\n|]*)?)")
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _lines(docs: list[Path] = DOCS) -> list[tuple[str, int, str]]:
    return [
        (str(path), number, line)
        for path in docs
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]


def _click_options(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", ()))
        names.update(getattr(param, "secondary_opts", ()))
    return names


def _mcp_options() -> set[str]:
    return {s for action in build_parser()._actions for s in action.option_strings}


def _wrapped_spans() -> list[tuple[str, int, str]]:
    """Inline code spans that wrap over lines (outside fenced blocks), joined into one line."""
    spans = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        unfenced = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for match in re.finditer(r"`([^`]+)`", unfenced):
            if "\n" in match.group(1):
                line = unfenced[: match.start()].count("\n") + 1
                spans.append((str(path), line, "`" + " ".join(match.group(1).split()) + "`"))
    return spans


def _documented_commands() -> list[tuple[str, str, list[str]]]:
    """(where, command, flags) for every `opt-data ...` invocation in the docs."""
    found = []
    for path, number, line in _lines() + _wrapped_spans():
        for match in _COMMAND.finditer(line):
            words = match.group(2).split()
            if match.group(1):  # opt-data-mcp: the MCP server's own flags
                words = ["mcp-server", *words]
            if not words or not re.fullmatch(r"[a-z][a-z-]*", words[0]):
                continue  # prose ("opt-data is ...") or a bare `opt-data`
            found.append((f"{path}:{number}", " ".join(words[:2]), _FLAG.findall(" ".join(words))))
    return found


def test_every_documented_command_and_flag_parses() -> None:
    root = typer.main.get_command(app)
    commands = root.commands  # type: ignore[attr-defined]
    mcp = _mcp_options()
    documented = _documented_commands()
    assert len(documented) > 50, "the scan found too few commands: the pattern broke"
    wrong = []
    for where, words, flags in documented:
        name, _, sub = words.partition(" ")
        if name not in commands:
            # prose such as "opt-data has three parts" is not a command: only a line that
            # also passes flags, or names a sub-word that looks like one, must resolve
            if flags:
                wrong.append(f"{where}: no command `opt-data {name}`")
            continue
        command = commands[name]
        if name == "mcp-server":
            known = mcp
        else:
            group = getattr(command, "commands", None)
            if group is not None:
                if sub not in group:
                    wrong.append(f"{where}: no command `opt-data {name} {sub}`")
                    continue
                command = group[sub]
            known = _click_options(command)
        wrong += [
            f"{where}: `opt-data {words}` has no {flag}" for flag in flags if flag not in known
        ]
    assert not wrong, "\n".join(wrong)


def _sections() -> set[str]:
    return set(AppConfig.model_fields) | {key[0] for key in RETIRED_KEYS}


def _known_key(parts: tuple[str, ...]) -> bool:
    if any(parts[: len(retired)] == retired for retired in RETIRED_KEYS):
        return True
    model: Any = AppConfig
    for part in parts:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return False
        if part not in model.model_fields:
            return False
        model = model.model_fields[part].annotation
    return True


def _documented_keys() -> list[tuple[str, tuple[str, ...]]]:
    """Every code span that is a dotted config key (`section.key`, optionally `=value`)."""
    sections = "|".join(sorted(_sections()))
    key = re.compile(rf"({sections})\.([a-z_]+)(?:\.([a-z_]+))?(?:\s*=.*)?")
    found = []
    for path, number, line in _lines(KEY_DOCS):
        for span in _CODE_SPAN.findall(line):
            for part in re.split(r"[\s,/]+(?![^=]*$)|\s+/\s+", span):
                match = key.fullmatch(part.strip())
                if match and match.group(match.lastindex or 0) not in FILE_SUFFIXES:
                    found.append((f"{path}:{number}", tuple(g for g in match.groups() if g)))
    return found


def test_every_documented_config_key_exists() -> None:
    documented = _documented_keys()
    assert len(documented) > 30, "the scan found too few keys: the pattern broke"
    wrong = [
        f"{where}: `{'.'.join(parts)}`" for where, parts in documented if not _known_key(parts)
    ]
    assert not wrong, "config keys the config model does not have:\n" + "\n".join(wrong)


def _toml_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^([ \t]*)```toml\n(.*?)^[ \t]*```", text, re.M | re.S):
            indent = match.group(1)
            body = "".join(line.removeprefix(indent) for line in match.group(2).splitlines(True))
            blocks.append((f"{path}:{text[: match.start()].count(chr(10)) + 1}", body))
    return blocks


def _flat(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    for name, value in table.items():
        if isinstance(value, dict):
            keys += _flat(value, (*prefix, name))
        else:
            keys.append((*prefix, name))
    return keys


@pytest.mark.parametrize("where,body", _toml_blocks(), ids=lambda v: str(v)[:40])
def test_every_toml_example_has_only_known_keys(where: str, body: str) -> None:
    keys = _flat(tomllib.loads(body))
    assert keys, f"{where}: an empty TOML example"
    unknown = [".".join(k) for k in keys if not _known_key(k)]
    assert not unknown, f"{where}: unknown keys {unknown}"


def test_every_documented_make_target_exists() -> None:
    makefile = Path("Makefile").read_text(encoding="utf-8")
    targets: set[str] = set()
    for line in makefile.splitlines():
        head = re.match(r"^([a-z][a-z0-9 -]*):(?!=)", line)
        if head:
            targets.update(head.group(1).split())
    documented = [
        (where, span.split()[1])
        for path, number, line in _lines()
        for where in [f"{path}:{number}"]
        for span in _CODE_SPAN.findall(line)
        if re.match(r"make [a-z]", span)
    ]
    assert len(documented) > 5
    wrong = [f"{where}: make {target}" for where, target in documented if target not in targets]
    assert not wrong, "make targets the Makefile does not have:\n" + "\n".join(wrong)


def test_the_runbooks_plan_example_is_what_schedule_prints() -> None:
    """docs/ops-runbook.md "What `schedule` prints" shows the plan of 2026-11-20 (a full
    Friday session; enrichment on Monday 11-23) with the default config: each line shown
    must be a line of that plan, and the header's task count the plan's length."""
    from collector.ops.schedule.plan import build_plan, format_plan
    from shared.calendar import get_session
    from shared.config import load_config

    day = date(2026, 11, 20)
    plan = build_plan(day, get_session(day), load_config("config/opt-data.toml"))
    printed = format_plan(plan).splitlines()
    text = Path("docs/ops-runbook.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(plan for 2026-11-20 .*?)```", text, re.S)
    assert block, "the runbook's plan example is gone"
    header, *lines = block.group(1).splitlines()
    assert header == f"plan for {day} ({len(plan)} tasks, ET):"
    shown = [line for line in lines if line != "..."]
    assert len(shown) >= 8
    assert [line for line in shown if line not in printed] == []
    # the example keeps the plan's order
    assert [printed.index(line) for line in shown] == sorted(printed.index(line) for line in shown)


@pytest.mark.parametrize(
    "path",
    [
        ".env",  # alert URLs and IB settings: secrets
        "config/opt-data.snapshot.local.toml",
        "config/opt-data.streaming.local.toml",
        "config/universe.local.csv",
        "demo/opt-data.demo.toml",
    ],
)
def test_what_the_docs_call_git_ignored_is(path: str) -> None:
    if shutil.which("git") is None or not Path(".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", path], check=False)
    assert result.returncode == 0, f"{path} is not git-ignored"


def test_the_consoles_metric_names_are_the_documented_ones() -> None:
    """docs/console.md lists the /metrics families a Prometheus job scrapes; a renamed family
    would silently empty a dashboard."""
    code = set(re.findall(r"optdata_[a-z_]+", Path("collector/console/metrics.py").read_text()))
    docs = set(re.findall(r"optdata_[a-z_]+", Path("docs/console.md").read_text()))
    assert len(code) >= 10
    assert code == docs
