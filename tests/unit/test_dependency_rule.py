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


def test_the_console_reads_through_shared_queries_not_the_mcp_server() -> None:
    """One read path: the console and the MCP server both call shared/queries."""
    assert offenders("collector/console", {"mcp_server"}) == []
    assert (ROOT / "shared" / "queries" / "health.py").is_file()


def test_only_collector_ib_imports_ib_async() -> None:
    assert offenders("collector", IB_LIBS, allow_under="collector/ib/") == []


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import ib_async.contract\nfrom collector.ib import x\nfrom . import y\n")
    assert imported_roots(sample) == {"ib_async", "collector"}


# Inside the collector: ib <- pipeline <- streaming, ops <- console <- cli. A layer imports only layers
# to its left; the base modules (collector/*.py: error log, lock) import none of them. The
# simulator imports nothing else of the collector. Lazy imports inside functions count too.
LAYERS = {
    "base": 0,
    "ib": 1,
    "pipeline": 2,
    "streaming": 3,
    "ops": 3,
    "console": 4,
    "cli": 5,
}
# The simulator imports nothing else of the collector; only the CLI (`gateway-sim`) and the
# demo (it runs a session on the embedded simulator) may start it.
SIM_USERS = {"cli", "ops"}


def collector_layer(module: str) -> str | None:
    """'collector.pipeline.jobs.snapshot' -> 'pipeline'; 'collector.lock' -> 'base'."""
    parts = module.split(".")
    if parts[0] != "collector":
        return None
    if len(parts) == 1 or (ROOT / "collector" / f"{parts[1]}.py").is_file():
        return "base"
    return parts[1]


def collector_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("collector"))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("collector")
        ):
            out.add(node.module)
    return out


def layer_violations() -> list[str]:
    bad = []
    for path in sorted((ROOT / "collector").rglob("*.py")):
        rel = path.relative_to(ROOT)
        own = "base" if len(rel.parts) == 2 else rel.parts[1]
        for module in sorted(collector_imports(path)):
            target = collector_layer(module)
            if target is None or target == own:
                continue
            if own == "gateway_sim" or target == "gateway_sim":
                if target == "gateway_sim" and own in SIM_USERS:
                    continue
                bad.append(f"{rel.as_posix()} imports {module} (the simulator stands alone)")
                continue
            if own not in LAYERS or target not in LAYERS:
                bad.append(f"{rel.as_posix()} imports {module}: unknown layer")
            elif LAYERS[target] >= LAYERS[own] and own != "base":
                bad.append(f"{rel.as_posix()} ({own}) imports {module} ({target})")
            elif own == "base":
                bad.append(f"{rel.as_posix()} (base) imports {module} ({target})")
    return bad


def test_collector_layers_point_one_way() -> None:
    assert layer_violations() == []


def test_the_layer_checker_sees_a_backward_import(tmp_path: Path) -> None:
    assert collector_layer("collector.pipeline.jobs.snapshot") == "pipeline"
    assert collector_layer("collector.lock") == "base"
    assert collector_layer("collector.ib") == "ib"
    assert collector_layer("shared.calendar") is None
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from collector.ops.schedule import plan\n")
    assert collector_imports(sample) == {"collector.ops.schedule"}
