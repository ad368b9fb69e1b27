"""Start-up: the ``argosy`` program pauses Python's cycle collector while it loads (nothing it
makes then is garbage) and resumes it, with what start-up made frozen, when the verb starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "examples" / "hello-world.yaml"

# Counts the collections before the verb starts, and says how the collector is then.
PROBE = """
import gc, sys
runs = []
gc.callbacks.append(lambda phase, info: phase == "start" and runs.append(info["generation"]))
import argosy.cli
started = argosy.cli.started
def spy():
    print("collections during start-up:", len(runs), file=sys.stderr)
    started()
    print("collector:", gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)
argosy.cli.started = spy
how, sys.argv = sys.argv[1], ["argosy", *sys.argv[2:]]
runs.clear()  # from here on: what the program and the verb's start-up do
if how == "program":
    argosy.cli.program()
else:
    argosy.cli.main(sys.argv[1:])
"""


def probe(tmp_path: Path, how: str, *args: str) -> str:
    env = {**os.environ, "ARGOSY_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE, how, *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_the_program_runs_no_collection_while_it_starts(tmp_path: Path) -> None:
    said = probe(tmp_path, "program", "run", str(HELLO))
    assert "collections during start-up: 0" in said
    assert "collector: True True" in said  # running again, start-up's objects frozen


def test_the_command_group_called_directly_leaves_the_collector_alone(tmp_path: Path) -> None:
    """The check above can fail: tests and embedders calling ``main`` keep Python's defaults."""
    said = probe(tmp_path, "main", "run", str(HELLO))
    assert "collections during start-up: 0" not in said
    assert "collector: True False" in said
