"""Imports flow one way: cli -> apps -> jobs -> services -> contracts, with no cycles.

Every import under vadkit/ is read from the source (function-level imports too; ``if
TYPE_CHECKING:`` blocks are left out, as they never run). docs/architecture.md ("Layers") shows
the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vadkit"

# Top to bottom. A module may import modules of its own layer or of layers below it. The jobs
# are ordered too (validation scores with evaluation's code, evaluation measures detection's
# decisions, detection exports graphs for its backends), so no two jobs import each other.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("cli", ("vadkit.cli", "vadkit.__main__")),
    ("apps", ("vadkit.serve", "vadkit.report", "vadkit.ablation")),
    ("job: validation", ("vadkit.validation",)),
    ("job: evaluation", ("vadkit.evaluation",)),
    ("job: detect", ("vadkit.detect",)),
    ("job: export", ("vadkit.export",)),
    ("job: training", ("vadkit.training",)),
    ("contracts", ("vadkit.errors", "vadkit.hookspecs", "vadkit.interfaces", "vadkit.model_output",
                   "vadkit.contracts", "vadkit.scoring", "vadkit.postprocess", "vadkit.sinks")),
]
SERVICES = "services"  # every other module: config, recipe, builder, data, registry, trained_run, ...
ORDER = [name for name, _ in LAYERS[:-1]] + [SERVICES, LAYERS[-1][0]]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return SERVICES


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package = module, is_package
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(a.name for a in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
            parts = parts[: len(parts) - node.level + 1]
            base = ".".join(parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        self.found.add(base)
        self.found.update(f"{base}.{a.name}" for a in node.names)


def imports(module: str) -> set[str]:
    """The vadkit modules ``module`` imports (the package root itself left out)."""
    path = MODULES[module]
    visitor = _Imports(module, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
    out = set()
    for name in visitor.found:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name not in (module, "vadkit"):
            out.add(name)
    return out


GRAPH = {m: imports(m) for m in MODULES if m != "vadkit"}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_the_layers(module: str) -> None:
    mine = ORDER.index(layer(module))
    upward = [f"{dep} ({layer(dep)})" for dep in sorted(GRAPH[module]) if ORDER.index(layer(dep)) < mine]
    assert not upward, f"{module} ({layer(module)}) imports from a higher layer: {', '.join(upward)}"


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_config_module_is_a_leaf() -> None:
    assert GRAPH["vadkit.config"] <= {"vadkit.recipe", "vadkit.errors"}, GRAPH["vadkit.config"]


def test_no_function_over_60_lines() -> None:
    """Small functions with one job (the core and the first-party plugins)."""
    long = []
    for root in (PACKAGE, PACKAGE.parent / "plugins"):
        for path in root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines > 60:
                        long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "functions over 60 lines: " + "; ".join(long)
