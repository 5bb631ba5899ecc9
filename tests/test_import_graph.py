"""The import graph of simlab has no cycles: between modules, between sub-packages, and between trainers.

Every ``.py`` file under ``simlab/`` is parsed with :mod:`ast` (nothing is imported), and each ``import`` /
``from ... import`` that names a simlab module becomes an edge. Which imports count where:

* **(a) module cycles** count only imports that run when the module is imported: module level, class bodies and
  module-level ``try`` / ``if`` included, but not function bodies and not ``if TYPE_CHECKING:``. Only those can
  leave a module half-initialised (``ImportError: cannot import name ... (most likely due to a circular
  import)``); an import inside a function runs after every module has finished loading, so a cycle through it
  cannot break at import time. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so the edge
  goes to each of those packages too, except the importer's own parent packages (those are already being
  initialised when the importer runs; their ``__init__`` importing their children is the normal pattern). A
  module that names its own package explicitly (``from simlab.encode import X`` inside ``simlab/encode/``) does
  depend on that ``__init__`` and gets the edge.
* **(a') module cycles, every import counted** (function-level and ``TYPE_CHECKING`` ones too): stricter than
  (a), and not needed for import safety, but a cycle that a function-level import closes is the usual way a
  layering knot hides (``evaluate.runner`` <-> ``evaluate.scoring`` was one); a failure of (a) fails this too,
  so (a) is kept for its sharper diagnosis ("breaks at import time").
* **(b) sub-package cycles** (``simlab.encode``, ``simlab.models``, ``simlab.evaluate``, ``simlab.errors``, ...)
  count EVERY import, function-level and ``TYPE_CHECKING`` ones included: layering is about what code depends
  on, and a function-level import is exactly how a package cycle hides from (a). A sub-package that needs a
  higher one only inside a function still cannot be used, tested or moved without it.
* **(c) trainer packages** (pretrain, finetune, clue, generate) never import one another, with every import
  counted as in (b): shared training code belongs in ``simlab.train`` (or lower).

The parser itself is checked on a planted package (``test_parser_*``), so a green run is not a parser that sees
no imports.

>>> graph = build_graph(SIMLAB_ROOT)
>>> "simlab.errors" in graph.modules
True
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import simlab

SIMLAB_ROOT = Path(simlab.__file__).resolve().parent
TRAINERS = ("simlab.pretrain", "simlab.finetune", "simlab.clue", "simlab.generate")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    runtime: bool  # runs when ``source`` is imported (module level, not under TYPE_CHECKING)


@dataclass
class Graph:
    modules: dict[str, Path]
    edges: list[Edge] = field(default_factory=list)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module):
    """(node, runtime) for every Import / ImportFrom; runtime = module level and not under TYPE_CHECKING."""
    stack = [(node, True) for node in tree.body]
    while stack:
        node, runtime = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, runtime
            continue
        inner = runtime and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack += [(n, False) for n in node.body] + [(n, inner) for n in node.orelse]
            continue
        stack += [(child, inner) for child in ast.iter_child_nodes(node)]


def _targets(node, source: str, is_package: bool, modules) -> list[str]:
    """The simlab modules an import statement names (before adding their parent packages)."""
    top = next(iter(modules)).split(".")[0] if modules else "simlab"
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == top]
    if node.level:
        package = source if is_package else source.rpartition(".")[0]
        base_parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != top:
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def build_graph(root: Path) -> Graph:
    """Every module of the package at ``root`` and every import edge between them."""
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = Graph(modules)
    for source, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        own_parents = {".".join(source.split(".")[:i]) for i in range(1, source.count(".") + 1)}
        for node, runtime in _imports(tree):
            for target in _targets(node, source, path.name == "__init__.py", modules):
                parts = target.split(".")
                # importing a.b.c runs a/__init__ and a/b/__init__ first, except the importer's own packages (they
                # are being initialised already); a package named explicitly (``from pkg import name``) counts
                implied = [".".join(parts[:i]) for i in range(1, len(parts))]
                for t in [*(p for p in implied if p not in own_parents), target]:
                    if t in modules and t != source:
                        graph.edges.append(Edge(source, t, node.lineno, runtime))
    return graph


def sub_package(module: str) -> str:
    """``simlab.encode.engines.auto`` → ``simlab.encode``; ``simlab.errors`` → ``simlab.errors``."""
    return ".".join(module.split(".")[:2])


def find_cycles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle (as a closed node list) per strongly connected component with more than one node (Tarjan).

    ``edges``: node -> {successor: where the edge comes from (for the message)}."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    sccs: list[list[str]] = []
    nodes = set(edges) | {t for succ in edges.values() for t in succ}

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [_one_cycle(comp, edges) for comp in sccs]


def _one_cycle(comp: list[str], edges) -> list[str]:
    """A shortest cycle through the first node of a strongly connected component (breadth-first)."""
    members, start = set(comp), comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, {})):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle in component {comp}")


def describe(cycle: list[str], edges) -> str:
    return " -> ".join(f"{a} ({edges[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def module_edges(graph: Graph, runtime_only: bool = True) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for e in graph.edges:
        if e.runtime or not runtime_only:
            out.setdefault(e.source, {}).setdefault(e.target, f"line {e.line}")
    return out


def package_edges(graph: Graph, root_name: str = "simlab") -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for e in graph.edges:
        a, b = sub_package(e.source), sub_package(e.target)
        if a != b and root_name not in (a, b):
            out.setdefault(a, {}).setdefault(b, f"{e.source}:{e.line}")
    return out


def _report(cycles, edges) -> str:
    """Each cycle, then every edge inside its strongly connected component (what has to be cut)."""
    out = []
    for c in cycles:
        comp = set(find_component(c[0], edges))
        inner = [f"    {a} -> {b} ({w})" for a in sorted(comp) for b, w in sorted(edges.get(a, {}).items()) if b in comp]
        out += [describe(c, edges), "  all edges of its component:", *inner]
    return "\n".join(out)


def find_component(node: str, edges) -> list[str]:
    """The strongly connected component of ``node``: the nodes it reaches that reach it back."""
    def reach(start, succ):
        seen, todo = {start}, [start]
        while todo:
            for w in succ(todo.pop()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    back: dict[str, set[str]] = {}
    for a, succ in edges.items():
        for b in succ:
            back.setdefault(b, set()).add(a)
    return sorted(reach(node, lambda v: edges.get(v, {})) & reach(node, lambda v: back.get(v, ())))


# ---------------------------------------------------------------------------------------------------------------
def test_no_module_cycles():
    edges = module_edges(build_graph(SIMLAB_ROOT))
    cycles = find_cycles(edges)
    assert not cycles, "import-time cycles between modules:\n" + _report(cycles, edges)


def test_no_module_cycles_counting_function_level_imports():
    edges = module_edges(build_graph(SIMLAB_ROOT), runtime_only=False)
    cycles = find_cycles(edges)
    assert not cycles, "cycles between modules (function-level imports included):\n" + _report(cycles, edges)


def test_no_sub_package_cycles():
    edges = package_edges(build_graph(SIMLAB_ROOT))
    cycles = find_cycles(edges)
    assert not cycles, "cycles between sub-packages (all imports count):\n" + _report(cycles, edges)


def test_trainers_do_not_import_each_other():
    edges = package_edges(build_graph(SIMLAB_ROOT))
    bad = [f"{a} -> {b} ({where})" for a in TRAINERS for b, where in edges.get(a, {}).items() if b in TRAINERS]
    assert not bad, "a trainer package imports another trainer package:\n" + "\n".join(bad)


def test_every_module_is_parsed():
    graph = build_graph(SIMLAB_ROOT)
    assert len(graph.modules) > 150 and all(p.is_relative_to(SIMLAB_ROOT) for p in graph.modules.values())
    assert {"simlab.encode.encoder", "simlab.evaluate.scoring", "simlab.cli.main"} <= set(graph.modules)
    sources = {e.source for e in graph.edges}
    assert "simlab.cli.main" in sources and "simlab.grid.run" in sources  # the parser sees real imports


# --- the parser on a planted package: each rule can fail ---------------------------------------------------------
def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "simlab"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (d / "__init__.py").touch()
    return root


def test_parser_module_level_cycle_found(tmp_path):
    root = _plant(tmp_path, {"a/x.py": "from simlab.b.y import f\n", "b/y.py": "import simlab.a.x\n"})
    cycles = find_cycles(module_edges(build_graph(root)))
    assert cycles == [["simlab.a.x", "simlab.b.y", "simlab.a.x"]]


def test_parser_function_level_and_type_checking_only_count_for_packages(tmp_path):
    root = _plant(tmp_path, {
        "a/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simlab.b.y import C\n",
        "b/y.py": "def f():\n    from ..a import x\n    return x\n",
    })
    graph = build_graph(root)
    assert find_cycles(module_edges(graph)) == []
    assert find_cycles(module_edges(graph, runtime_only=False)) == [["simlab.a.x", "simlab.b.y", "simlab.a.x"]]
    assert find_cycles(package_edges(graph)) == [["simlab.a", "simlab.b", "simlab.a"]]
    assert {(e.source, e.target, e.runtime) for e in graph.edges} == {
        ("simlab.a.x", "simlab.b.y", False), ("simlab.a.x", "simlab.b", False),
        ("simlab.b.y", "simlab.a", False), ("simlab.b.y", "simlab.a.x", False)}


def test_parser_package_init_and_relative_imports(tmp_path):
    # a/x imports b.y, which runs b/__init__, which imports a/x at module level: a real import-time cycle;
    # a/__init__ importing its own child a/x (and a/x being inside a) is not one
    root = _plant(tmp_path, {"a/__init__.py": "from .x import g\n", "a/x.py": "from ..b.y import f\ng = 1\n",
                             "b/__init__.py": "from simlab.a import x\n", "b/y.py": "f = 1\n"})
    cycles = find_cycles(module_edges(build_graph(root)))
    assert cycles == [["simlab.a", "simlab.a.x", "simlab.b", "simlab.a"]]


def test_parser_own_package_named_explicitly(tmp_path):
    # a/x importing a name from its own package's __init__, which imports a/x: fails at import time if the name is
    # defined after that import; a/x importing its sibling a/y (which runs no code of a/__init__) is fine
    root = _plant(tmp_path, {"a/__init__.py": "from simlab.a.x import g\nh = 1\n",
                             "a/x.py": "from simlab.a import h\nfrom simlab.a.y import k\ng = 1\n", "a/y.py": "k = 1\n"})
    edges = module_edges(build_graph(root))
    assert edges["simlab.a.x"] == {"simlab.a": "line 1", "simlab.a.y": "line 2"}
    assert find_cycles(edges) == [["simlab.a", "simlab.a.x", "simlab.a"]]
