"""`opt-data --help` loads no data stack: the heavy libraries load when a command runs."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from collector.cli.main import app

HEAVY = ("pyarrow", "polars", "numpy", "pandas", "ib_async", "pydantic", "duckdb")
# typer formats help with rich when it is installed (0.2 s of imports: rich, pygments,
# markdown-it); the app asks for plain help, and asyncio loads when a command runs
START_UP = ("rich", "pygments", "markdown_it", "asyncio")


def test_help_imports_none_of_the_data_stack() -> None:
    code = (
        "import sys\n"
        "from collector.cli.main import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('heavy=' + ','.join(m for m in {HEAVY + START_UP!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "opt-data" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "heavy="


def test_help_is_plain_text_brackets_and_all() -> None:
    # plain help (no rich markup): a config section is written as it is, unescaped
    out = CliRunner().invoke(app, ["snapshot", "--help"])
    assert out.exit_code == 0
    assert "(default: [shard] in config)" in " ".join(out.output.split())
    assert "\\[" not in out.output and "╭" not in out.output
