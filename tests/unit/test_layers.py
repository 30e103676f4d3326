"""The tree shows the architecture: the core's folders are layers, imports point down, modules stay small.

route_table -> api -> http -> guards -> turn -> config: a module may import from its own layer or one
below, never above (the `TYPE_CHECKING` block aside: annotations import nothing at run time), and no two
modules import each other in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[2] / "cat_openai_bridge"
CORE = PLUGIN / "core"
LAYERS = ["config", "turn", "guards", "http", "api", "route_table"]  # bottom to top
MAX_LINES = 300


def _module(path: Path) -> str:
    parts = path.relative_to(PLUGIN).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[1])


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path) -> set[str]:
    """The plugin modules `path` imports at run time (relative imports resolved, a package's submodules named)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    tree = ast.parse(path.read_text())
    skipped = {id(n) for block in ast.walk(tree) if _type_checking(block) for n in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.level or id(node) in skipped:
            continue
        base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
        for alias in node.names:
            candidate = [*base, alias.name]
            is_module = (PLUGIN.joinpath(*candidate).with_suffix(".py")).exists() or PLUGIN.joinpath(
                *candidate
            ).is_dir()
            found.add(".".join(candidate if is_module else base))
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(p): {m for m in _imports(p) if m.startswith("core.")} for p in CORE.rglob("*.py")}


def test_core_imports_point_down_only():
    upward = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module != "core"
        for target in targets
        if target != "core" and _layer(target) > _layer(module)
    ]
    assert upward == []


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                raise AssertionError(" -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_module_over_300_lines():
    long = {
        str(p.relative_to(PLUGIN)): n
        for p in PLUGIN.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
