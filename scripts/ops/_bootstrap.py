"""Make the ops scripts runnable directly (./scripts/ops/x.py): project venv and import path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("OPT_DATA_ROOT") or Path(__file__).resolve().parents[2])


def ensure_project_python() -> None:
    """Re-exec under the project's .venv python when started with another interpreter."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.is_file() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
