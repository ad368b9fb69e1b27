"""``argosy logs`` shows what every node printed: steps killed by ``stop`` (the issue's own
reproduction, through the real command and its background engine) and plugin nodes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from argosy.store import Store
from tests.conftest import run_cli
from tests.engine.log_cases import (
    LONG_LINES,
    PLUGIN_SAID,
    STOPPED_SAID,
    make_logged_workflows,
    sleepy,
)


def wait_printed(home: Path) -> None:
    deadline = time.monotonic() + 60
    store = Store(home)
    while not store.list() or not any(
            f.stat().st_size for f in store.run_dir(store.list()[0].uid).glob("*/stdout")):
        assert time.monotonic() < deadline, "the step printed nothing"
        time.sleep(0.1)
    store.close()


def test_logs_of_a_stopped_step(argosy_home: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "sleepy.yaml"
    manifest.write_text(sleepy("sleepy"))
    assert run_cli("submit", str(manifest), home=argosy_home).code == 0
    wait_printed(argosy_home)
    assert run_cli("stop", "sleepy", home=argosy_home).code == 0
    assert run_cli("wait", "sleepy", home=argosy_home).code in (0, 1)
    result = run_cli("logs", "sleepy", home=argosy_home)
    assert result.code == 0, result.stderr
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines()] == [
        STOPPED_SAID, "on stderr"]


def test_logs_of_a_step_interrupted_by_ctrl_c(tmp_path: Path) -> None:
    manifest = tmp_path / "sleepy.yaml"
    manifest.write_text(sleepy("sleepy"))
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "argosy.cli", "run", str(manifest), "-o",
                             "name"], env=dict(os.environ, ARGOSY_HOME=str(home)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_printed(home)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 1
    finally:
        proc.kill()
    result = run_cli("logs", "sleepy", home=home)
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines()] == [
        STOPPED_SAID, "on stderr"]


def test_logs_of_a_plugin_node_and_of_a_long_log(tmp_path: Path) -> None:
    make_logged_workflows(tmp_path)
    result = run_cli("logs", "plugged", home=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [f"plugged: {PLUGIN_SAID}", "plugged: in two lines"]
    assert run_cli("logs", "plugged", "--node", "plugged", home=tmp_path).stdout.splitlines() \
        == [f"plugged: {PLUGIN_SAID}", "plugged: in two lines"]
    # Longer than the store keeps: shown whole, from the file kept beside the store.
    long = run_cli("logs", "long", home=tmp_path).stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in long] == [str(i) for i in range(1, LONG_LINES + 1)]


def test_a_bad_log_limit_is_refused_before_anything_runs(tmp_path: Path) -> None:
    manifest = tmp_path / "sleepy.yaml"
    manifest.write_text(sleepy("never"))
    result = run_cli("run", str(manifest), home=tmp_path / "home",
                     env={"ARGOSY_LOG_LIMIT": "lots"})
    assert (result.code, result.stderr.strip()) == (
        2, "ARGOSY_LOG_LIMIT='lots': expected a number of bytes of at least 2, or a quantity"
           " such as 256Ki or 4Mi")
    assert Store(tmp_path / "home").list() == []
