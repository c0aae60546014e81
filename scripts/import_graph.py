"""The import graph of the ``debate`` package: sizes, cycles and upward imports.

Standard library only: every ``debate/**/*.py`` is parsed with ``ast`` (nothing
is imported), and each ``import`` / ``from ... import`` statement whose target
lies inside ``debate`` becomes an edge from the importing module to the
imported one.

Modules and edges
-----------------
* A module is named as Python names it: ``debate/a/b.py`` is ``debate.a.b``,
  ``debate/a/__init__.py`` is the package module ``debate.a``.
* Relative imports are resolved against the importing module's package (an
  ``__init__`` is its own package).
* ``from P import x`` is an edge to ``P.x`` when ``P.x`` is a module, else to
  ``P`` (``x`` is a name defined in ``P``).  ``import P.Q`` is an edge to
  ``P.Q``.  Parent packages that Python runs on the way (``P/__init__.py``)
  are not counted as edges: an edge is what the statement names.
* Each edge has one kind:

  - ``top``: runtime import at module level (including inside a top-level
    ``try``/``if``/class body); these run when the module is imported;
  - ``lazy``: inside a function or method body; runs when that code runs;
  - ``type``: under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``),
    which never runs;
  - ``main``: under ``if __name__ == "__main__":``, which runs only when the module
    is run as a script (``python -m``), never on import;
  - ``dynamic``: a string-named import, ``importlib.import_module("debate.x")``
    with a literal argument, or a key of the module map given to
    ``debate._lazy.lazy_exports`` (PEP 562 lazy package exports).

Cycles
------
Strongly connected components with more than one module, over two graphs:
``top`` edges only (cycles that run at import time), and ``top`` + ``lazy``.
``type``, ``dynamic`` and ``main`` edges are never part of a cycle.

Upward imports
--------------
The package tree is a layering: ``debate`` at the top, each subpackage a
layer below its parent.  A module's *home* is the package it sits in
(``debate.a`` for ``debate/a/b.py``; for a package module ``debate/a/__init__.py``
also ``debate.a``).  An edge ``M -> T`` (any kind other than ``type``; type-only
ones are listed in their own count) is *upward* when it points back up the tree,
that is, when either

1. ``home(T)`` is a strict ancestor of ``home(M)``: a module in ``debate/a/``
   (or deeper) importing a module that sits higher, e.g. ``debate/a/b.py`` ->
   ``debate/c.py`` at the root, or ``debate/a/b/c.py`` -> ``debate/a/d.py``; or
2. ``T`` is a package module (an ``__init__``) of one of ``M``'s own enclosing
   packages: ``debate/a/b.py`` -> ``debate/a/__init__.py`` or
   ``debate/__init__.py`` (a child importing its parent's facade).

Sideways edges (into a sibling subpackage, e.g. ``debate/a/x.py`` ->
``debate/b/y.py``) and downward edges are not upward.  A root-level module
(``debate/x.py``) can only be upward by rule 2 (importing ``debate``).

Imports against the layers
--------------------------
The tree says where a module sits, not what it may use: a root-level
``debate/errors.py`` is the bottom of everything.  :data:`LAYERS` declares the
intended order (DESIGN.md: models <- agents <- protocols <- runner <- cli), each
module in the layer of its longest matching prefix; an edge (``top`` or
``lazy``; ``dynamic`` ones are the lazy facades, ``type`` ones never run) from a
lower layer into a higher one is an import *against the layers*.

The report also gives the folder-level graph's cycles (package A has a
top-level import into package B and B back into A, counting the root modules
as the folder ``debate/``).

Usage: ``python scripts/import_graph.py [--root DIR] [--top N] [--json] [--edges]``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "debate"
KINDS = ("top", "lazy", "type", "dynamic", "main")

LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: what everything may use
    ("debate.errors", "debate.settings", "debate.files", "debate._generic", "debate._lazy",
     "debate.memo", "debate.registry"),
    # 1: the model interface, backends and middleware
    ("debate.models",),
    # 2: records: the trace, reading answers, sampling settings
    ("debate.trace", "debate.trace_extensions", "debate.scoring", "debate.sampling",
     "debate.uncertainty",
     "debate.parsing", "debate.numbers"),  # (the last two: names before issue 29)
    # 3: data: datasets and their loaders
    ("debate.datasets", "debate.distractor", "debate.quality"),
    # 4: roles: prompts, agents, role cards, judges
    ("debate.prompts", "debate.agents", "debate.cards", "debate.judges"),
    # 5: protocols
    ("debate.protocols",),
    # 6: what runs and reads debates
    ("debate.experiment", "debate.analysis", "debate.export", "debate.viewer",
     "debate.testing",
     # the same modules at the root, before issue 29 moved them (to measure old trees)
     "debate.config", "debate.runner", "debate.shard", "debate.distributed",
     "debate.identity", "debate.binding", "debate.plugins", "debate.metrics",
     "debate.oversight_metrics", "debate.stats", "debate.report", "debate.results",
     "debate.compare", "debate.plots", "debate.ratings"),
    # 7: the interfaces
    ("debate.cli", "debate"),
)
"""The intended layers, lowest first; a module belongs to the layer of its longest prefix."""


@dataclass(frozen=True)
class Edge:
    """One import statement's target, as an edge of the graph."""

    source: str
    target: str
    kind: str
    line: int


def module_name(path: Path, root: Path) -> str:
    """``debate.a.b`` for ``<root>/debate/a/b.py``; a package for ``__init__.py``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    """Whether ``path`` is a package's ``__init__.py``."""
    return path.name == "__init__.py"


def home(module: str, packages: set[str]) -> str:
    """The package a module sits in (a package module sits in itself)."""
    return module if module in packages else module.rpartition(".")[0]


def is_main_guard(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``__name__ == "__main__"`` (code run as a script only)."""
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class Collector(ast.NodeVisitor):
    """The import edges of one module."""

    def __init__(self, name: str, package: str, modules: set[str],
                 assignments: dict[str, ast.expr]) -> None:
        self.name = name
        self.package = package  # the package relative imports resolve against
        self.modules = modules
        self.assignments = assignments
        self.edges: list[Edge] = []
        self.function_depth = 0
        self.type_depth = 0
        self.main_depth = 0

    @property
    def kind(self) -> str:
        if self.type_depth:
            return "type"
        if self.main_depth:
            return "main"
        return "lazy" if self.function_depth else "top"

    def add(self, target: str, line: int, kind: str | None = None) -> None:
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            # a name not found as a module (a typo, a moved module) maps to its
            # nearest existing package so the edge is still counted
            while target not in self.modules and "." in target:
                target = target.rpartition(".")[0]
            if target != self.name:
                self.edges.append(Edge(self.name, target, kind or self.kind, line))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.function_depth += 1
        for statement in node.body:
            self.visit(statement)
        self.function_depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    def visit_If(self, node: ast.If) -> None:
        if is_main_guard(node.test):
            self.main_depth += 1
            for statement in node.body:
                self.visit(statement)
            self.main_depth -= 1
            for statement in node.orelse:
                self.visit(statement)
        elif is_type_checking(node.test):
            self.type_depth += 1
            for statement in node.body:
                self.visit(statement)
            self.type_depth -= 1
            for statement in node.orelse:
                self.visit(statement)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        for alias in node.names:
            candidate = f"{prefix}.{alias.name}"
            self.add(candidate if candidate in self.modules else prefix, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == "import_module" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self.add(first.value, node.lineno, "dynamic")
        elif called == "lazy_exports" and len(node.args) >= 2:
            sources = node.args[1]
            if isinstance(sources, ast.Name):
                sources = self.assignments.get(sources.id, sources)
            if isinstance(sources, ast.Dict):
                for key in sources.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        self.add(key.value, node.lineno, "dynamic")
        self.generic_visit(node)


def strongly_connected(nodes: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        # iterative DFS: (node, iterator over its successors)
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found, key=lambda c: (-len(c), c))


def layer(module: str) -> int:
    """The index in :data:`LAYERS` of ``module``'s longest matching prefix."""
    best, found = -1, len(LAYERS) - 1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    return found


def analyse(root: Path, top: int = 10) -> dict:
    """The whole report for the ``debate`` package under ``root``, as plain data."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    files = [f for f in files if "__pycache__" not in f.parts]
    names = {module_name(f, root): f for f in files}
    modules = set(names)
    packages = {name for name, f in names.items() if is_package(f)}
    lines = {name: len(f.read_text(encoding="utf-8").splitlines()) for name, f in names.items()}

    edges: list[Edge] = []
    for name, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        assignments: dict[str, ast.expr] = {}
        for statement in tree.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        assignments[target.id] = statement.value
            elif (isinstance(statement, ast.AnnAssign) and statement.value is not None
                  and isinstance(statement.target, ast.Name)):
                assignments[statement.target.id] = statement.value
        package = name if is_package(path) else name.rpartition(".")[0]
        collector = Collector(name, package, modules, assignments)
        collector.visit(tree)
        edges.extend(collector.edges)

    # one edge per (source, target, kind); the first line it appears on
    unique: dict[tuple[str, str, str], Edge] = {}
    for edge in edges:
        unique.setdefault((edge.source, edge.target, edge.kind), edge)
    edges = sorted(unique.values(), key=lambda e: (e.source, e.target, KINDS.index(e.kind)))

    folders: dict[str, dict[str, int]] = defaultdict(lambda: {"modules": 0, "lines": 0})
    for name in modules:
        folder = home(name, packages)
        folders[folder]["modules"] += 1
        folders[folder]["lines"] += lines[name]

    def graph(kinds: tuple[str, ...]) -> dict[str, set[str]]:
        result: dict[str, set[str]] = defaultdict(set)
        for edge in edges:
            if edge.kind in kinds:
                result[edge.source].add(edge.target)
        return result

    ordered = sorted(modules)

    def is_upward(edge: Edge) -> str | None:
        source_home, target_home = home(edge.source, packages), home(edge.target, packages)
        if edge.target in packages and edge.source.startswith(edge.target + "."):
            return "rule 2: enclosing package's __init__"
        if target_home != source_home and source_home.startswith(target_home + "."):
            return "rule 1: module higher up"
        return None

    upward = []
    for edge in edges:
        why = is_upward(edge)
        if why:
            upward.append({"source": edge.source, "target": edge.target, "kind": edge.kind,
                           "line": edge.line, "rule": why})
    counts = {kind: sum(1 for e in edges if e.kind == kind) for kind in KINDS}
    by_target: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    for item in upward:
        by_target[item["target"]][item["kind"]] += 1
    # the folder (package) graph: folder A -> folder B when a module homed in A
    # imports one homed in B at top level; its cycles are layering violations
    folder_graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if edge.kind == "top":
            a, b = home(edge.source, packages), home(edge.target, packages)
            if a != b:
                folder_graph[a].add(b)
    upward_counts = {kind: sum(1 for u in upward if u["kind"] == kind) for kind in KINDS}
    against = [{"source": e.source, "target": e.target, "kind": e.kind, "line": e.line}
               for e in edges if e.kind in ("top", "lazy") and layer(e.target) > layer(e.source)]
    return {
        "root": str(root),
        "modules": len(modules),
        "lines": sum(lines.values()),
        "folders": {k: folders[k] for k in sorted(folders)},
        "largest": [{"module": n, "lines": lines[n]}
                    for n in sorted(modules, key=lambda n: (-lines[n], n))[:top]],
        "edges": counts,
        "cycles_top": strongly_connected(ordered, graph(("top",))),
        "cycles_top_lazy": strongly_connected(ordered, graph(("top", "lazy"))),
        "folder_cycles_top": strongly_connected(sorted(folders), folder_graph),
        "upward_counts": upward_counts,
        "upward_by_target": {t: by_target[t] for t in sorted(
            by_target, key=lambda t: (-sum(by_target[t].values()), t))},
        "upward": upward,
        "against_layers": against,
    }


def render(report: dict, list_edges: bool = False) -> str:
    """The report as readable text."""
    out = [f"debate package under {report['root']}: {report['modules']} modules, "
           f"{report['lines']} lines", "", "Modules and lines per folder (package):"]
    for folder, numbers in report["folders"].items():
        path = folder.replace(".", "/") + "/"
        out.append(f"  {path:<28} {numbers['modules']:>4} modules {numbers['lines']:>7} lines")
    out += ["", "Largest modules:"]
    for item in report["largest"]:
        out.append(f"  {item['lines']:>6}  {item['module']}")
    edges = report["edges"]
    out += ["", "Import edges inside debate (distinct source->target per kind): "
            + ", ".join(f"{k} {edges[k]}" for k in KINDS)]
    for key, title in (("cycles_top", "Import cycles, top-level runtime imports only"),
                       ("cycles_top_lazy", "Import cycles, top-level + lazy (function) imports")):
        cycles = report[key]
        out += ["", f"{title}: {len(cycles)}"
                + (f" (largest {len(cycles[0])} modules)" if cycles else "")]
        for number, members in enumerate(cycles, 1):
            out.append(f"  {number}. ({len(members)}) " + ", ".join(members))
    folder_cycles = report["folder_cycles_top"]
    out += ["", "Folder-level cycles (package A imports package B at top level and back): "
            f"{len(folder_cycles)}"]
    for number, members in enumerate(folder_cycles, 1):
        out.append(f"  {number}. " + ", ".join(m.replace(".", "/") + "/" for m in members))
    against = report["against_layers"]
    out += ["", f"Imports against the layers (top {sum(a['kind'] == 'top' for a in against)}, "
            f"lazy {sum(a['kind'] == 'lazy' for a in against)}):"]
    for item in against:
        out.append(f"  [{item['kind']:<4}] {item['source']}:{item['line']} -> {item['target']}")
    counts = report["upward_counts"]
    out += ["", "Upward imports (distinct source->target per kind): "
            + ", ".join(f"{k} {counts[k]}" for k in KINDS)
            + f" (total {sum(counts.values())}; 'type' ones never run)", "  by target:"]
    for target, per_kind in report["upward_by_target"].items():
        out.append(f"  {sum(per_kind.values()):>5}  {target:<34} "
                   + ", ".join(f"{k} {n}" for k, n in per_kind.items() if n))
    if not list_edges:
        out.append("  (--edges lists each one)")
        return "\n".join(out)
    for item in report["upward"]:
        out.append(f"  [{item['kind']:<7}] {item['source']}:{item['line']} -> {item['target']}"
                   f"  ({item['rule']})")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Module counts, lines per folder, largest modules, import cycles and "
                    "upward imports of the debate package (ast only, nothing imported).")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the directory holding debate/ (default: this checkout)")
    parser.add_argument("--top", type=int, default=10, help="how many largest modules to list")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--edges", action="store_true",
                        help="list every upward import in the text report")
    args = parser.parse_args(argv)
    if not (args.root / PACKAGE).is_dir():
        parser.error(f"no {PACKAGE}/ under {args.root}")
    report = analyse(args.root, args.top)
    print(json.dumps(report, indent=2) if args.json else render(report, args.edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
