"""The CLI verbs with ``--server``: the same commands through a real ``argosy server``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.test_verbs import (
    MISSING_WORKFLOW_VERBS,
    NOT_FOUND,
    assert_filters_name_what_is_missing,
)
from tests.server.rest_harness import free_port

HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: one
        template: say
  - name: say
    script:
      image: alpine
      command: [sh]
      source: |
        echo "first line"
        echo "last line"
"""

APPROVAL = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: approval
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: approve
        template: gate
    - - name: use
        template: echo
        arguments:
          parameters: [{name: m, value: "{{steps.approve.outputs.parameters.answer}}"}]
  - name: gate
    suspend: {}
    outputs:
      parameters:
      - name: answer
        valueFrom: {supplied: {}}
  - name: echo
    inputs: {parameters: [{name: m}]}
    container: {image: alpine, command: [echo, "got {{inputs.parameters.m}}"]}
"""

WAIT_LINE = re.compile(r"^(\S+) (\w+) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$")

Cli = Callable[..., Any]


@pytest.fixture
def server(argosy_home: Path, cli: Cli) -> Iterator[tuple[str, str]]:
    """A running ``argosy server`` (with its engine) and a token it accepts."""
    token = cli("auth", "token").stdout.strip()
    assert token.startswith("argosy_")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "server", "--port", str(port),
         "--log-level", "warning"],
        env=dict(os.environ, ARGOSY_HOME=str(argosy_home)), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                httpx.get(f"{url}/api/v1/version", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield url, token
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_an_unreachable_server_is_a_failure_as_in_argo(cli: Cli, tmp_path: Path) -> None:
    """Argo's CLI exits 1 when it cannot reach its server; 2 stays "input rejected"."""
    env = {"ARGOSY_SERVER": f"http://127.0.0.1:{free_port()}", "ARGOSY_TOKEN": "t"}
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    for args in (("list",), ("get", "x"), ("submit", str(path)), ("delete", "x")):
        done = cli(*args, env=env)
        assert (done.code, done.stderr.startswith("cannot reach")) == (1, True), (args, done)


def test_verbs_through_the_server(cli: Cli, server: tuple[str, str], tmp_path: Path) -> None:
    url, token = server
    env = {"ARGOSY_SERVER": url, "ARGOSY_TOKEN": token}
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    submitted = cli("submit", str(path), "--wait", env=env)
    assert submitted.code == 0, submitted.stderr
    name = submitted.stdout.splitlines()[0].split()[1]
    assert WAIT_LINE.match(submitted.stdout.splitlines()[-1]).groups() == (  # type: ignore[union-attr]
        name, "Succeeded")
    rows = cli("list", env=env).stdout.splitlines()
    assert rows[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    assert rows[1].split()[:2] == [name, "Succeeded"]
    wf = cli("get", name, "-o", "json", env=env).json()
    assert wf["status"]["phase"] == "Succeeded"
    one = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "one")
    pod = f"{name}-say-{one['id'].rsplit('-', 1)[1]}"
    assert cli("logs", name, env=env).stdout.splitlines() == [
        f"{pod}: first line", f"{pod}: last line"]
    assert cli("logs", name, "--grep", "last", env=env).stdout == f"{pod}: last line\n"
    assert_filters_name_what_is_missing(cli, name, tmp_path, env)
    # The flags name the server as well as the environment does.
    assert cli("get", name, "-o", "name", "--server", url, "--token", token).stdout == (
        f"{name}\n")
    for args in MISSING_WORKFLOW_VERBS:  # exit 1 as Argo's CLI, as locally
        missing = cli(*args, env=env)
        assert (missing.code, missing.stderr) == (1, f"{NOT_FOUND}\n"), args
    missing = cli("delete", "nope", env=env)
    assert (missing.code, missing.stderr) == (1, "Workflow 'nope' not found\n")
    denied = cli("list", env={"ARGOSY_SERVER": url, "ARGOSY_TOKEN": "argosy_bad_token"})
    assert denied.code == 2 and denied.stderr.startswith("401 Unauthorized")
    resubmitted = cli("resubmit", name, "-o", "name", "--wait", env=env)
    assert resubmitted.code == 0, resubmitted.stderr
    assert resubmitted.stdout.startswith(f"{name}-")
    deleted = cli("delete", "--all", env=env)
    assert sorted(deleted.stdout.splitlines()) == sorted(
        [f"Workflow '{name}' deleted", f"Workflow '{resubmitted.stdout.strip()}' deleted"])
    # Nothing went to the local store behind the server's back: it is the server's store.
    assert cli("list").stdout == "No workflows found\n"


def test_suspend_node_set_and_resume_through_the_server(
        cli: Cli, server: tuple[str, str], tmp_path: Path) -> None:
    url, token = server
    env = {"ARGOSY_SERVER": url, "ARGOSY_TOKEN": token}
    path = tmp_path / "approval.yaml"
    path.write_text(APPROVAL)
    assert cli("submit", str(path), "-o", "name", env=env).stdout == "approval\n"
    deadline = time.monotonic() + 30
    while True:
        wf = cli("get", "approval", "-o", "json", env=env).json()
        nodes = {n["displayName"]: n for n in wf["status"].get("nodes", {}).values()}
        if nodes.get("approve", {}).get("phase") == "Running":
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    result = cli("node", "set", "approval", "-p", "answer=remote", "--node-field-selector",
                 "displayName=approve", env=env)
    assert (result.code, result.stdout) == (0, "workflow values set\n"), result.stderr
    assert cli("resume", "approval", env=env).stdout == "workflow approval resumed\n"
    assert cli("wait", "approval", env=env).code == 0
    logs = cli("logs", "approval", "-f", env=env).stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in logs] == ["got remote"]


def test_templates_through_the_server(cli: Cli, server: tuple[str, str], tmp_path: Path) -> None:
    from tests.cli.test_templates import TEMPLATE

    url, token = server
    env = {"ARGOSY_SERVER": url, "ARGOSY_TOKEN": token}
    path = tmp_path / "t.yaml"
    path.write_text(TEMPLATE)
    assert cli("apply", "-f", str(path), env=env).stdout.strip() == (
        "workflowtemplate.argoproj.io/greet created")
    assert cli("apply", "-f", str(path), env=env).stdout.strip() == (
        "workflowtemplate.argoproj.io/greet configured")
    assert cli("template", "list", "-o", "name", env=env).stdout.split() == ["greet"]
    submitted = cli("submit", "--from", "workflowtemplate/greet", "-p", "message=remote",
                    "--wait", env=env)
    assert submitted.code == 0, submitted.stderr
    name = submitted.stdout.splitlines()[0].split()[1]
    assert "remote-from-defaults" in cli("logs", name, env=env).stdout
    assert cli("template", "delete", "greet", env=env).code == 0
    gone = cli("template", "get", "greet", env=env)
    assert gone.code == 1 and 'WorkflowTemplate "greet" not found' in gone.stderr
    config_map = tmp_path / "cm.yaml"
    config_map.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    refused = cli("apply", "-f", str(config_map), env=env)
    assert refused.code == 2 and "argo-server's API has no such objects" in refused.stderr
