"""argosy's own plugins, and the example third-party one, use the public plugin API only.

That is what makes "anything a built-in does, a plugin can do" true: a built-in that needs
something from the engine gets it as a documented member of ``argosy.plugin``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

#: What a plugin may import from argosy: the public API, and (argosy's own) each other.
# argosy.kube is public too: the cluster connection and Argo's labels, for Kubernetes plugins.
ALLOWED = ("argosy.plugin", "argosy.plugins", "argosy.kube")
SOURCES = sorted((REPO / "plugins").glob("*.py")) + sorted(
    (REPO / "examples" / "plugins").glob("*/src/*/*.py"))


def imports_of(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "argosy" else [
                f"argosy.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names]
    return found


def argosy_imports(path: Path) -> list[tuple[int, str]]:
    return [(line, n) for line, n in imports_of(path) if n == "argosy" or n.startswith("argosy.")]


def allowed(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ALLOWED)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_plugin_imports_only_the_public_plugin_api(path: Path) -> None:
    bad = [f"{path.relative_to(REPO)}:{line}: {module}"
           for line, module in argosy_imports(path) if not allowed(module)]
    assert not bad, "imports beyond argosy.plugin:\n" + "\n".join(bad)


def engine_reaches(path: Path) -> list[int]:
    """Lines reading ``ctx.run`` (the engine's WorkflowRun, not part of the node API)."""
    def is_ctx(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id == "ctx") or (
            isinstance(node, ast.Attribute) and node.attr == "ctx")
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Attribute) and node.attr == "run" and is_ctx(node.value)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_plugin_uses_the_node_api_not_the_engine(path: Path) -> None:
    lines = engine_reaches(path)
    assert not lines, f"{path.relative_to(REPO)} reads ctx.run at lines {lines}"


def test_the_engine_rule_sees_both_spellings(tmp_path: Path) -> None:
    source = tmp_path / "p.py"
    source.write_text("def f(ctx, self):\n    ctx.run.store\n    self.ctx.run.uid\n"
                      "    ctx.run_child('a', 'b')\n")
    assert engine_reaches(source) == [2, 3]


def test_the_rule_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "p.py"
    source.write_text("import argosy.store\nfrom argosy import registry\n"
                      "from argosy.engine.run import NodeContext\n"
                      "from argosy.plugin import hookimpl\n"
                      "def f():\n    from argosy.expr import evaluate_expr\n")
    assert [m for _, m in argosy_imports(source) if not allowed(m)] == [
        "argosy.store", "argosy.registry", "argosy.engine.run", "argosy.expr"]
    assert len(SOURCES) >= 9


def test_the_engine_reaches_its_store_through_the_interface() -> None:
    # No SQLite in the engine: a store for another backend can back it (argosy.plugin.Store).
    engine = sorted((REPO / "core" / "engine").glob("*.py"))
    bad = [f"{path.name}:{line}: {module}" for path in engine
           for line, module in imports_of(path) if module == "sqlite3"]
    bad += [f"{path.name}:{node.lineno}: .db" for path in engine
            for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Attribute)
            and node.attr == "db"]
    assert not bad, "the engine reaches SQLite:\n" + "\n".join(bad)
