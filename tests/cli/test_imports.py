"""Each verb imports only what it needs: a local verb never pulls in the server stack or the
Kubernetes client, and a verb that uses no plugin (not even the store's) loads none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello-world.yaml"
SERVER_STACK = ("fastapi", "uvicorn", "starlette", "kubernetes", "kubernetes_asyncio")
# What only running a workflow needs: the engine, the plugins, pydantic's models.
ENGINE = ("argosy.engine", "argosy.plugins", "pydantic", "jsonpath")
# What a run needs only when its workflow uses it: the expression languages (a `when`, a
# `{{= …}}`), HTTP (artifacts, probes), rich (a terminal to draw on).
UNUSED_BY_HELLO = ("argosy.expr.exprlang", "argosy.expr.govaluate", "argosy.expr.builtins",
                   "jsonpath", "urllib.request", "http.client", "rich")
EXPRESSIONS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: expressions-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: wait, when: "{{= 1 + 1 }} == 2"}
  - name: wait
    suspend: {duration: "0"}
"""

# The CLI in a subprocess, which writes the modules it imported to a file as it exits.
PROBE = """
import atexit, json, sys
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules))))
from argosy.cli import main
main(sys.argv[2:], prog_name="argosy")
"""


def imported(home: Path, *args: str) -> set[str]:
    out = home / "modules.json"
    env = {**os.environ, "ARGOSY_HOME": str(home), "COLUMNS": "120"}
    result = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def under(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == r or m.startswith(r + ".") for r in roots))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    imported(home, "run", str(HELLO))  # a finished workflow for `get` and `list`
    return home


@pytest.mark.parametrize("verb", [("run", str(HELLO)), ("lint", str(HELLO)), ("list",),
                                  ("get", "@latest"), ("version",)], ids=lambda v: v[0])
def test_a_local_verb_imports_no_server_stack_nor_kubernetes(home: Path, verb: tuple) -> None:
    assert under(imported(home, *verb), SERVER_STACK) == []


@pytest.mark.parametrize("verb", [("version",), ("list",), ("get", "@latest")],
                         ids=lambda v: v[0])
def test_a_verb_reading_the_store_loads_no_engine_nor_plugins(home: Path, verb: tuple) -> None:
    """argosy's own store opens without the registry: no plugin API, pydantic nor croniter."""
    modules = imported(home, *verb)
    assert under(modules, (*ENGINE, "argosy.registry", "argosy.plugin", "croniter")) == []


@pytest.mark.parametrize("verb", [("run", str(HELLO)), ("list",), ("get", "@latest")],
                         ids=lambda v: v[0])
def test_verbs_of_their_own_module_load_only_when_called(home: Path, verb: tuple) -> None:
    """apply, template, cron and controller join the command when one of them is called."""
    from argosy.cli.commands import LAZY_VERBS

    assert under(imported(home, *verb), tuple(set(LAZY_VERBS.values()))) == []
    assert "argosy.cli.cron" in imported(home, "cron", "list")


def test_help_lists_the_verbs_of_their_own_module() -> None:
    from click.testing import CliRunner

    from argosy.cli import main

    listed = CliRunner().invoke(main, ["--help"]).output
    for name in ("apply", "template", "cluster-template", "cron", "controller", "run"):
        assert f"  {name} " in listed


def test_run_still_loads_the_plugins(home: Path) -> None:
    """The check above can fail: running a workflow does import the engine and its plugins."""
    modules = imported(home, "run", str(HELLO))
    assert "argosy.engine.run" in modules and "argosy.plugins.container" in modules
    # ...but nothing hello-world never uses: no expression, artifact, nor terminal.
    assert under(modules, UNUSED_BY_HELLO) == []


def test_a_run_loads_the_expression_languages_its_workflow_uses(home: Path) -> None:
    """The check above can fail: a `when` with an expression tag loads both languages."""
    manifest = home / "expressions.yaml"
    manifest.write_text(EXPRESSIONS)
    modules = imported(home, "run", str(manifest))
    assert {"argosy.expr.exprlang", "argosy.expr.govaluate"} <= modules


# The fork server's start as `run` sees it: whether the engine was loaded by then.
PREPARE_PROBE = """
import sys
from argosy.plugins import local
seen = []
start = local._ForkServer.start
def spy(self):
    seen.append("argosy.engine.run" in sys.modules)
    start(self)
local._ForkServer.start = spy
from argosy.cli import main
try:
    main(sys.argv[1:], prog_name="argosy")
finally:
    print("engine loaded at start:", seen, file=sys.stderr)
"""


def test_run_starts_the_fork_server_before_loading_the_engine(home: Path) -> None:
    """It boots in a process of its own while the engine loads, not once the first node asks."""
    env = {**os.environ, "ARGOSY_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", PREPARE_PROBE, "run", str(HELLO)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "engine loaded at start: [False]" in result.stderr
