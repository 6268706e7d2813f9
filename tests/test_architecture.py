"""The package's shape: imports run downward, no cycles, long modules say why they are long.

Every module of ``fashion_mrcnn`` is parsed with ``ast`` (nothing is imported); every import
statement counts, those inside functions too (a lazy import is still a dependency). An import
``from a.b import c`` depends on the module ``a.b.c`` when that is a module of the package, else on
``a.b``. The rules (docs/DESIGN.md, "Layout"):

- no import cycle between modules;
- ``data``, ``ops`` and ``layers`` never import ``inference``, ``evaluation``, ``viz``,
  ``workflow`` or ``app``; ``model`` never imports them either;
- ``inference`` (the detect loop and post-processing) never imports ``evaluation``, ``viz``,
  ``workflow``, ``app``, ``submission`` or ``predict`` (they all use it);
- ``evaluation`` never imports ``viz``, ``workflow`` or ``app`` (``viz`` may import it);
- ``layers`` imports nothing of the package but ``ops``, ``constants`` and ``errors``;
- ``ops`` imports nothing of the package but ``ops``, ``constants`` and ``errors`` (never
  ``layers`` or ``model``);
- ``constants`` imports nothing (and no TensorFlow), so every part can read it;
- a module over 400 lines says why in its docstring, on a line starting ``Over 400 lines:``.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "fashion_mrcnn"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
MAX_LINES = 400
LONG_REASON = "Over 400 lines:"

#: part of the package -> the parts it must never import
FORBIDDEN = {
    "data": ("inference", "evaluation", "viz", "workflow", "app"),
    "ops": ("inference", "evaluation", "viz", "workflow", "app"),
    "layers": ("inference", "evaluation", "viz", "workflow", "app"),
    "model": ("inference", "evaluation", "viz", "workflow", "app"),
    "inference": ("evaluation", "viz", "workflow", "app", "submission", "predict"),
    "evaluation": ("viz", "workflow", "app"),
}
#: part of the package -> the only parts of the package it may import
ALLOWED_ONLY = {
    "layers": ("layers", "ops", "constants", "errors"),
    "ops": ("ops", "constants", "errors"),
    "constants": (),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of the package."""
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = modules()[module].name == "__init__.py"
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports(module: str) -> frozenset[str]:
    """The package modules ``module`` imports (anywhere in the file)."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            names = [
                f"{target}.{a.name}" if f"{target}.{a.name}" in modules() else target
                for a in node.names
            ]
        else:
            continue
        for name in names:
            if name != PACKAGE and not name.startswith(PACKAGE + "."):
                continue
            while name not in modules() and "." in name:  # `import a.b.c` of a non-module c
                name = name.rsplit(".", 1)[0]
            if name != module:
                found.add(name)
    return frozenset(found)


def _part(module: str) -> str:
    """``fashion_mrcnn.data.formats.rle`` -> ``data``; the package itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in imports(v):
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
                out.append(sorted(component))

    for v in modules():
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_sees_known_edges():
    """The parser finds real imports (so the rules below cannot pass on an empty graph)."""
    assert len(modules()) > 50
    assert "fashion_mrcnn.ops.boxes" in imports("fashion_mrcnn.ops.anchors")  # from-import
    assert "fashion_mrcnn.model.weights" in imports("fashion_mrcnn.model.maskrcnn")  # `import as`
    assert "fashion_mrcnn.model.maskrcnn" in imports(
        "fashion_mrcnn.workflow.stages.training"
    )  # lazy
    assert "fashion_mrcnn.inference.detect" in imports("fashion_mrcnn.submission")


def test_no_import_cycles():
    cycles = _cycles()
    assert not cycles, "import cycles between modules: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_lower_parts_never_import_higher_ones():
    bad = [
        f"{m} imports {i}"
        for m in modules()
        for i in sorted(imports(m))
        if _part(i) in FORBIDDEN.get(_part(m), ())
    ]
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_layers_ops_and_constants_import_only_what_they_may():
    bad = [
        f"{m} imports {i}"
        for m in modules()
        if _part(m) in ALLOWED_ONLY
        for i in sorted(imports(m))
        if _part(i) not in ALLOWED_ONLY[_part(m)]
    ]
    assert not bad, "imports outside the allowed parts:\n" + "\n".join(bad)


def test_constants_import_no_tensorflow():
    path = ROOT / "constants.py"
    assert path.is_file(), "fashion_mrcnn/constants.py owns the shared names"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    heavy = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (getattr(node, "module", None) or alias.name).split(".")[0]
            in ("tensorflow", "keras", "numpy")
            for alias in node.names
        )
    ]
    assert not heavy, f"constants.py must stay import-free: {heavy}"


def test_long_modules_say_why():
    bad = []
    for name, path in modules().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if not any(line.strip().startswith(LONG_REASON) for line in doc.splitlines()):
            bad.append(f"{name} ({n} lines)")
    assert not bad, (
        f"modules over {MAX_LINES} lines without a '{LONG_REASON} ...' line in their docstring: "
        + ", ".join(bad)
    )
