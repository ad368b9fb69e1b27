"""Ctrl-C on ``argosy run``: the first stops the workflow as ``argosy stop`` (exit handlers
run), the second terminates it as ``argosy terminate`` (they are killed too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from argosy.store import Store

# A step that runs until stopped; the exit handler says it ran, then takes `exit_seconds`.
LONG_WITH_EXIT = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: interrupted}
spec:
  entrypoint: main
  onExit: bye
  arguments: {parameters: [{name: exit_seconds, value: "0"}]}
  templates:
  - name: main
    container: {image: busybox, command: [sleep, "120"]}
  - name: bye
    script:
      image: busybox
      command: [sh]
      source: |
        echo exit handler ran
        sleep {{workflow.parameters.exit_seconds}}
"""


def start_run(tmp_path: Path, home: Path, exit_seconds: int) -> subprocess.Popen[str]:
    path = tmp_path / "wf.yaml"
    path.write_text(LONG_WITH_EXIT)
    return subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "run", str(path), "-p",
         f"exit_seconds={exit_seconds}"], env=dict(os.environ, ARGOSY_HOME=str(home)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def nodes_when(home: Path, display_name: str, phase: str) -> dict[str, dict[str, Any]]:
    """The workflow's nodes by display name, once that node has that phase."""
    deadline = time.monotonic() + 60
    while True:
        if (home / "argosy.db").exists():
            store = Store(home)
            try:
                rec = store.find("default", "interrupted")
                nodes = {n["displayName"]: n for n in store.nodes(rec.uid).values()}
            except Exception:  # not submitted yet
                nodes = {}
            store.close()
            if nodes.get(display_name, {}).get("phase") == phase:
                return nodes
        assert time.monotonic() < deadline, f"{display_name} never {phase}: {nodes}"
        time.sleep(0.1)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return code, proc.stderr.read() if proc.stderr else ""


def test_first_ctrl_c_stops_and_exit_handlers_run(tmp_path: Path, argosy_home: Path) -> None:
    proc = start_run(tmp_path, argosy_home, exit_seconds=0)
    nodes_when(argosy_home, "interrupted", "Running")
    proc.send_signal(signal.SIGINT)
    code, stderr = finish(proc)
    assert code == 1, stderr
    assert "Stopping interrupted: exit handlers run (Ctrl-C again to terminate)" in stderr
    assert "Traceback" not in stderr
    store = Store(argosy_home)
    rec = store.find("default", "interrupted")
    nodes = {n["displayName"]: n for n in store.nodes(rec.uid).values()}
    assert rec.phase == "Failed" and rec.message == "Stopped with strategy 'Stop'"
    assert nodes["interrupted"]["message"] == "Stopped: interrupted"
    bye = nodes["interrupted.onExit"]
    assert bye["phase"] == "Succeeded"
    assert store.log(rec.uid, bye["id"]) == "exit handler ran\n"


def test_second_ctrl_c_terminates_the_exit_handler(tmp_path: Path, argosy_home: Path) -> None:
    proc = start_run(tmp_path, argosy_home, exit_seconds=120)
    nodes_when(argosy_home, "interrupted", "Running")
    proc.send_signal(signal.SIGINT)
    nodes_when(argosy_home, "interrupted.onExit", "Running")
    proc.send_signal(signal.SIGINT)
    code, stderr = finish(proc)
    assert code == 1, stderr
    assert "Terminating interrupted" in stderr and "Traceback" not in stderr
    store = Store(argosy_home)
    rec = store.find("default", "interrupted")
    nodes = {n["displayName"]: n for n in store.nodes(rec.uid).values()}
    assert rec.phase == "Failed"
    assert nodes["interrupted.onExit"]["phase"] == "Failed"
