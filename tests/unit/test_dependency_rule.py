"""The dependency rule of ARCHITECTURE.md, checked on every import statement in the tree."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IB_LIBS = {"ib_async", "ib_insync", "ibapi"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def offenders(package: str, forbidden: set[str], allow_under: str | None = None) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if allow_under and rel.startswith(allow_under):
            continue
        hits = imported_roots(path) & forbidden
        if hits:
            bad.append(f"{rel}: {sorted(hits)}")
    return bad


def test_shared_imports_neither_collector_nor_mcp_server_nor_ib() -> None:
    assert offenders("shared", {"collector", "mcp_server"} | IB_LIBS) == []


def test_mcp_server_never_imports_collector_or_ib() -> None:
    assert offenders("mcp_server", {"collector"} | IB_LIBS) == []


def test_only_collector_ib_imports_ib_async() -> None:
    assert offenders("collector", IB_LIBS, allow_under="collector/ib/") == []


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import ib_async.contract\nfrom collector.ib import x\nfrom . import y\n")
    assert imported_roots(sample) == {"ib_async", "collector"}
