"""DESIGN.md's folder table, executed: every import of every module (inside functions and TYPE_CHECKING blocks
too) obeys its folder's rule, and no part imports itself round in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = ("schemas", "infra", "producers", "inference", "consumers", "agent", "trainer", "ui", "driftline", "tests",
        "bench")
# folder -> the other folders of ours it may import (its own is always allowed); None: anything of ours.
MAY_IMPORT: dict[str, set[str] | None] = {
    "schemas": set(),
    "infra": {"schemas"},
    "producers": {"schemas", "infra"},
    "inference": {"schemas", "infra"},
    "consumers": {"schemas", "infra"},
    "agent": {"schemas", "infra"},
    "trainer": {"schemas", "infra"},
    "ui": {"schemas", "infra"},
    "driftline": None,
    "bench": set(OURS) - {"tests", "bench"},
    "tests": None,
}
# The one exception DESIGN.md names: the executor calls the trainer in-process for a retrain.
EXCEPTIONS = {("agent/executor.py", "trainer")}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the file; `from a import b` gives a.b when b is a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.append((node.lineno, candidate if _is_module(candidate, root) else base))
    return found


def _is_module(dotted: str, root: Path) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def python_files(folder: str, root: Path = ROOT) -> list[Path]:
    return sorted(p for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts)


def violations(root: Path = ROOT) -> list[str]:
    broken = []
    for folder, allowed in MAY_IMPORT.items():
        if allowed is None:
            continue
        for path in python_files(folder, root):
            rel = path.relative_to(root).as_posix()
            for line, name in imports(path, root):
                top = name.split(".")[0]
                if top not in OURS or top == folder or top in allowed or (rel, top) in EXCEPTIONS:
                    continue
                may = "anything but tests" if folder == "bench" else ", ".join(sorted(allowed)) or "nothing of ours"
                broken.append(f"{rel}:{line} imports {name}: `{folder}/` may import {may} (DESIGN.md, folder table)")
    return list(dict.fromkeys(broken))


def test_every_import_obeys_the_folder_table():
    broken = violations()
    assert not broken, "imports that break DESIGN.md's folder table:\n" + "\n".join(broken)


def unresolved(root: Path = ROOT) -> list[str]:
    """Imports of our packages that name no module (a module moved or gone); the benchmarks, run by hand, rot here
    first."""
    missing = []
    for folder in MAY_IMPORT:
        for path in python_files(folder, root):
            for line, name in imports(path, root):
                if name.split(".")[0] in OURS and not _is_module(name, root):
                    missing.append(f"{path.relative_to(root).as_posix()}:{line} imports {name}, which is no module")
    return missing


def test_every_import_of_ours_names_a_module():
    missing = unresolved()
    assert not missing, "\n".join(missing)


def test_the_check_sees_lazy_and_relative_imports(tmp_path):
    # The check itself can fail: an import across parts hidden in a function, or written relative, is named.
    for folder in ("ui", "agent"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "agent" / "policy.py").write_text("")
    (tmp_path / "ui" / "page.py").write_text("def f():\n    from agent.policy import load_policy\n    return load_policy\n")
    (tmp_path / "agent" / "gate.py").write_text("from ..ui import page\nfrom agent.gone import x\n")
    assert unresolved(tmp_path) == ["agent/gate.py:2 imports agent.gone, which is no module"]
    assert violations(tmp_path) == [
        "agent/gate.py:1 imports ui.page: `agent/` may import infra, schemas (DESIGN.md, folder table)",
        "ui/page.py:2 imports agent.policy: `ui/` may import infra, schemas (DESIGN.md, folder table)",
    ]


def cycles(folder: str, root: Path = ROOT) -> list[list[str]]:
    """Import cycles among the modules of one folder (Tarjan's strongly connected components)."""
    graph: dict[str, set[str]] = {}
    for path in python_files(folder, root):
        own = module_name(path, root)
        graph[own] = {name for _, name in imports(path, root) if name.split(".")[0] == folder and name != own}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_part_imports_itself_in_a_circle():
    loops = {folder: cycles(folder) for folder in MAY_IMPORT if folder != "tests"}
    loops = {folder: found for folder, found in loops.items() if found}
    assert not loops, "import cycles inside a part (each a set of modules that import each other):\n" + "\n".join(
        f"{folder}: {' <-> '.join(component)}" for folder, found in loops.items() for component in found)


def test_the_cycle_check_finds_a_lazy_loop(tmp_path):
    (tmp_path / "trainer").mkdir()
    (tmp_path / "trainer" / "api.py").write_text("from trainer.run import go\n")
    (tmp_path / "trainer" / "run.py").write_text("def go():\n    from trainer import api\n")
    (tmp_path / "trainer" / "plots.py").write_text("import trainer.run\n")
    assert cycles("trainer", tmp_path) == [["trainer.api", "trainer.run"]]
