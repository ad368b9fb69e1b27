"""Fixtures shared by every suite: an isolated ARGOSY_HOME and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
# The conformance corpus lives beside the project (shared/), never inside it.
ARGO_EXAMPLES = REPO.parent / "shared" / "conformance" / "argo-examples"


@pytest.fixture
def argosy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "argosy-home"
    monkeypatch.setenv("ARGOSY_HOME", str(home))
    return home


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, home: Path, timeout: float = 300, stdin: str | None = None,
            env: dict[str, str] | None = None) -> CliResult:
    """Run the real ``argosy`` command in a child process."""
    full_env = dict(os.environ, ARGOSY_HOME=str(home), **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "argosy.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env, input=stdin)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(argosy_home: Path):  # type: ignore[no-untyped-def]
    def call(*args: str, **kwargs: Any) -> CliResult:
        return run_cli(*args, home=argosy_home, **kwargs)

    return call
