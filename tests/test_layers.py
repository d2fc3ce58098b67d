"""The layers: no import cycles between modules, the core never imports a UI,
and the torch-free modules stay torch-free (checked in a fresh interpreter)."""

from __future__ import annotations

import ast
import subprocess
import sys

from helpers import REPO

PACKAGES = ("nawt_core", "nawt_cli", "nawt_tui")
# imported by the CLI's --help, the TUI and the new-run form: never torch
TORCH_FREE = ("nawt_core.spec", "nawt_core.evalspec", "nawt_core.config", "nawt_core.status", "nawt_core.errors",
              "nawt_core.hardware", "nawt_core.failures", "nawt_core.runview", "nawt_core.store",
              "nawt_core.records", "nawt_core.compare", "nawt_core.export", "nawt_core.run_control",
              "nawt_core.stats", "nawt_core.cost", "nawt_core.report", "nawt_core.queue", "nawt_core.migrate", "nawt_core.ray_backend",
              "nawt_core.claims", "nawt_core.safe_files", "nawt_core.textsafe", "nawt_core.lists", "nawt_core.bounds",
              "nawt_core.options", "nawt_core.rows", "nawt_core.recorder", "nawt_core.launchers",
              "nawt_core.evals.robustness", "nawt_core.evals.quantization", "nawt_core.plots", "nawt_core.study",
              "nawt_cli.main")


def _modules() -> dict[str, ast.Module]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = ast.parse(path.read_text(), str(path))
    return out


def _target(mod: str, node: ast.ImportFrom | ast.Import, is_pkg: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = mod if is_pkg else mod.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    root = ".".join(p for p in (base if node.level else "", node.module or "") if p)
    return [root] + [f"{root}.{a.name}" for a in node.names]  # `from pkg import module` names a module


def _edges(modules: dict[str, ast.Module], top_level_only: bool) -> dict[str, set[str]]:
    graph = {}
    for mod, tree in modules.items():
        is_pkg = any(m.startswith(mod + ".") for m in modules)
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        if top_level_only:  # module-level statements, inside try/if blocks too
            nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                     if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        graph[mod] = {t for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))
                      for t in _target(mod, n, is_pkg) if t in modules and t != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_modules():
    graph = _edges(_modules(), top_level_only=True)
    assert graph["nawt_core.config"] >= {"nawt_core.spec"}  # the graph sees relative imports
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_never_imports_a_ui():
    graph = _edges(_modules(), top_level_only=False)  # function-local imports too
    bad = {m: sorted(t for t in ts if not t.startswith("nawt_core")) for m, ts in graph.items()
           if m.startswith("nawt_core")}
    assert {m: ts for m, ts in bad.items() if ts} == {}


def test_torch_free_modules_and_the_tui_never_import_torch():
    # the TUI, and every evaluation's spec (nawt_core/evals/: a new one is checked without being listed)
    tui = [m for m in _modules() if m.startswith(("nawt_tui", "nawt_core.evals"))]
    code = ("import importlib, sys\n"
            f"for m in {[*TORCH_FREE, *tui]!r}:\n"
            "    importlib.import_module(m)\n"
            "    assert 'torch' not in sys.modules, m\n"
            "print('OK')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.stdout.strip() == "OK", out.stderr[-1500:]
