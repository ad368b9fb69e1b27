"""Runs the panel's TypeScript unit tests (labextension/test) with Node's test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parents[2] / "labextension"


def test_frontend_logic_unit_tests() -> None:
    if not (EXT / "node_modules" / "typescript").exists() or shutil.which("node") is None:
        pytest.skip("labextension/node_modules missing: run `jlpm install` in labextension/")
    tsc = EXT / "node_modules" / ".bin" / "tsc"
    build = subprocess.run([str(tsc), "-p", "tsconfig.test.json"], cwd=EXT,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    run = subprocess.run(["node", "--test", "build-test/test/"], cwd=EXT,
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
