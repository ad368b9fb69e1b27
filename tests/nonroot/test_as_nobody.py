"""The suites that run steps, again as user nobody, so that a non-root user's runs can never
break silently (CI runs as root). Each test runs its part in a throwaway PID and mount namespace
(``unshare``), where ``open_up.py`` lets nobody read the checkout and the Python running it,
without changing anything on the host. Run as anyone but root, they skip: the suite itself is
then the non-root run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ARGO_EXAMPLES, REPO

NOBODY = 65534
OPEN_UP = Path(__file__).with_name("open_up.py")
# The conformance corpus runs for many minutes in one process, the engine suite for one or
# two: each is spread over this many tests. The corpus runs on the local executor only: on the
# kubernetes executor its steps run in pods, as whoever the cluster says, not as the engine's user.
CONFORMANCE_SHARDS = 6
ENGINE_SHARDS = 3
# Each outer test's timeout (pytest-timeout's default is 300 s), of which its inner run gets
# all but a margin to report what it saw.
TIMEOUT = 600
MARGIN = 30

pytestmark = [
    pytest.mark.timeout(TIMEOUT),
    pytest.mark.skipif(os.geteuid() != 0, reason="not root: the whole suite runs as non-root"),
    pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("setpriv")),
                       reason="needs unshare and setpriv"),
]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory nobody owns: its HOME, ARGOSY_HOME and pytest's base temp."""
    path = Path(tempfile.mkdtemp(prefix="argosy-nobody-"))
    try:
        os.chown(path, NOBODY, NOBODY)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_nobody(scratch: Path, *command: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    readable = [REPO, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve(),
                ARGO_EXAMPLES]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ARGOSY_"))}
    clean |= {"HOME": str(scratch), "ARGOSY_HOME": str(scratch / "home"),
              "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--mount-proc", sys.executable, "-I",
         str(OPEN_UP), *map(str, readable), "--", *command],
        cwd=REPO, env=clean, capture_output=True, text=True, timeout=TIMEOUT - MARGIN)


def pytest_as_nobody(scratch: Path, *args: str, shard: str | None = None) -> str:
    """Run pytest on ``args`` as nobody; its output, after checking nothing failed."""
    env = {"ARGOSY_TEST_SHARD": shard} if shard else {}
    proc = as_nobody(scratch, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     "-p", "tests.nonroot.inner", "--basetemp", str(scratch / "pytest"),
                     "--timeout", str(TIMEOUT - 2 * MARGIN), *args, env=env)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and " passed" in summary, proc.stdout[-6000:] + proc.stderr
    assert not re.search(r"\b(failed|error)", summary), summary
    return proc.stdout


def test_hello_world_runs_isolated_as_nobody(scratch: Path) -> None:
    proc = as_nobody(scratch, sys.executable, "-m", "argosy.cli", "run",
                     str(REPO / "examples" / "hello-world.yaml"), "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"phase": "Succeeded"' in proc.stdout
    assert "unisolated" not in proc.stderr  # the user namespace gave its steps a private /tmp


def test_the_executor_suite_as_nobody(scratch: Path) -> None:
    output = pytest_as_nobody(scratch, "tests/executor")
    assert "SKIPPED" not in output  # nothing skipped, e.g. for want of isolation


@pytest.mark.parametrize("shard", range(ENGINE_SHARDS))
def test_the_engine_suite_as_nobody(scratch: Path, shard: int) -> None:
    pytest_as_nobody(scratch, "tests/engine", shard=f"{shard}/{ENGINE_SHARDS}")


def test_the_durability_suite_as_nobody(scratch: Path) -> None:
    pytest_as_nobody(scratch, "tests/durability")


@pytest.mark.parametrize("shard", range(CONFORMANCE_SHARDS))
def test_the_conformance_corpus_as_nobody(scratch: Path, shard: int) -> None:
    if not ARGO_EXAMPLES.exists():
        pytest.skip(f"no conformance corpus at {ARGO_EXAMPLES}")
    pytest_as_nobody(scratch, "tests/conformance", "-k", "not on_kubernetes",
                     shard=f"{shard}/{CONFORMANCE_SHARDS}")
