"""The package's layers point one way (DESIGN.md): every import inside ``reportgen`` — at module
level, inside functions and under ``TYPE_CHECKING`` alike — goes to the same layer or a lower one,
and no two modules import each other, directly or around a circle. Parsed with ``ast``, so nothing
is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "reportgen"

# lowest first; a module may import its own layer and any layer before it
LAYERS: list[tuple[str, ...]] = [
    ("reportgen.version", "reportgen.errors", "reportgen.paths", "reportgen.text", "reportgen.allocator"),
    ("reportgen.spec",),
    ("reportgen.catalog",),
    ("reportgen.models",),
    ("reportgen.analysis", "reportgen.analysis.stage", "reportgen.analysis.counting"),
    ("reportgen.analysis.prediction",),
    ("reportgen.analysis.measurement",),
    ("reportgen.analysis.findings",),
    ("reportgen.analysis.hypotheses",),
    ("reportgen.analysis.experiments",),
    ("reportgen.analysis.tradeoffs",),
    ("reportgen.result",),
    # the stages that fill result.py's own sections, and a fresh result before any stage runs
    ("reportgen.header", "reportgen.stages"),
    ("reportgen.pipeline",),
    ("reportgen.report",),
    # the application: checks a study up front (dry build), builds, writes folders, batches
    ("reportgen.study", "reportgen.drybuild", "reportgen.outdir", "reportgen.build", "reportgen.batch",
     "reportgen.api"),
    # the package root is the public facade (``reportgen.Study``), above everything it re-exports
    ("reportgen.cli", "reportgen.__main__", "reportgen"),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """The reportgen modules ``path`` imports (``from pkg import mod`` resolves to the module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("reportgen"):
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("reportgen"))
    return out


def layer(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            # the root names only itself: a new top-level module must be placed explicitly
            inside = module.startswith(p + ".") and p != "reportgen"
            if (module == p or inside) and len(p) > best:
                best, rank = len(p), i
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {i for i in imports(p, known) if i != m} for m, p in mods.items()}


def test_every_module_has_a_layer() -> None:
    for m in modules():
        layer(m)


def test_no_upward_import() -> None:
    bad = [f"{m} (layer {layer(m)}) imports {i} (layer {layer(i)})"
           for m, deps in graph().items() for i in sorted(deps) if layer(i) > layer(m)]
    assert not bad, "\n".join(bad)


def test_no_import_circle() -> None:
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(g.get(u, ())):
            if v not in g:
                continue
            if state.get(v) == 1:
                circles.append(" -> ".join([*stack[stack.index(v):], v]))
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    # a package importing its own submodule (``from reportgen.x import y`` in x/__init__) is no circle
    assert not circles, "\n".join(circles)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The parser resolves ``from pkg import module`` and imports inside functions."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from reportgen.report import render\n", encoding="utf-8")
    found = imports(src, {"reportgen.report.render"})
    assert found == {"reportgen.report.render"}
    assert layer("reportgen.report.render") > layer("reportgen.analysis.counting.trace")
