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
    # ...but not the JSONPath library (a tenth of a second) that hello-world never calls.
    assert under(modules, ("jsonpath",)) == []
