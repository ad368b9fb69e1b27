"""Every workflow in ``examples/`` runs, through the real CLI, with the outcome its header says.

An example's header comment states what it must do, in lines this test reads:

    # expect: Succeeded                           the workflow's final phase
    # check: NODE.outputs.result = TEXT           a node (by display name) field equals TEXT
    # check: NODE.message ~ REGEX                 ... or matches REGEX (NODE: a display name, or
                                                  a node's name with the workflow's as @)
    # check: workflow.outputs.parameters.P = X    the workflow's own outputs
    # args: -p name=Ada                           extra arguments to run/submit ({free_port}:
                                                  a port free on this machine)
    # apply: other.yaml                           applied to the store first (beside this file)
    # set: NODE PARAM=VALUE                       once NODE runs, set its output parameter...
    # resume: NODE                                ... and resume the workflow
    # kubernetes                                  run against the Kubernetes API server double
    # plugin: argosy-http                         needs the example plugin and an HTTP server

WorkflowTemplates and CronWorkflows are created in the store and submitted from there;
ConfigMaps are data that examples apply.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_cli
from tests.kube.double import Double
from tests.plugins.test_http_plugin import plugin_env  # noqa: F401 (a fixture)

EXAMPLES = REPO / "examples"
RUNNABLE = ("Workflow", "WorkflowTemplate", "CronWorkflow")
FIELD = re.compile(r"^(?P<node>.+?)\.(?P<field>phase|message|(?:outputs|memoizationStatus)\.\S+)"
                   r"\s+(?P<op>[=~])\s+(?P<value>.*)$")


@dataclass
class Header:
    phase: str = ""
    checks: list[tuple[str, str, str, str]] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    apply: list[str] = field(default_factory=list)
    set: list[tuple[str, str]] = field(default_factory=list)
    resume: str = ""
    kubernetes: bool = False
    plugin: str = ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_header(path: Path) -> Header:
    header = Header()
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.lstrip("# ").partition(":")
        value = value.strip()
        if key == "expect":
            header.phase = value
        elif key == "check":
            match = FIELD.match(value)
            assert match, f"{path.name}: cannot read check {value!r}"
            header.checks.append(match.group("node", "field", "op", "value"))
        elif key == "args":
            header.args += shlex.split(value.replace("{free_port}", str(free_port())))
        elif key == "apply":
            header.apply.append(value)
        elif key == "set":
            node, assignment = value.split()
            header.set.append((node, assignment))
        elif key == "resume":
            header.resume = value
        elif key == "plugin":
            header.plugin = value
        elif key == "kubernetes" and not value:
            header.kubernetes = True
    return header


def example_files() -> list[Path]:
    """Every workflow, WorkflowTemplate and CronWorkflow; not the ConfigMaps they apply."""
    return sorted(p for p in EXAMPLES.rglob("*.yaml")
                  if ".venv" not in p.parts and yaml.safe_load(p.read_text())["kind"] in RUNNABLE)


def test_every_example_states_its_outcome_and_a_check() -> None:
    unchecked = [str(p.relative_to(EXAMPLES)) for p in example_files()
                 if not (read_header(p).phase and read_header(p).checks)]
    assert not unchecked, f"examples without '# expect:' and '# check:' lines: {unchecked}"


# ---- running one --------------------------------------------------------------------------------


class Hello(BaseHTTPRequestHandler):
    """Answers every GET with a small JSON document, for the http plugin's example."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Runner:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env

    def __call__(self, *args: str, ok: bool = True) -> str:
        done = run_cli(*args, home=self.home, env=self.env, timeout=240)
        if ok:
            assert done.code == 0, f"argosy {' '.join(args)} exited {done.code}:\n{done.stderr}"
        return done.stdout

    def node_running(self, name: str, display: str) -> None:
        for _ in range(600):
            wf = json.loads(self("get", name, "-o", "json"))
            nodes = (wf.get("status") or {}).get("nodes") or {}
            if any(n.get("displayName") == display and n.get("phase") == "Running"
                   for n in nodes.values()):
                return
            time.sleep(0.1)
        raise AssertionError(f"node {display} of {name} never ran")

    def submitted(self, header: Header, submit: list[str]) -> dict[str, Any]:
        name = self("submit", *submit, *header.args, "-o", "name").strip()
        if header.resume:
            self.node_running(name, header.resume)
            for node, assignment in header.set:
                self("node", "set", name, "--node-field-selector", f"displayName={node}",
                     "--output-parameter", assignment)
            self("resume", name)
        self("wait", name, ok=False)
        return json.loads(self("get", name, "-o", "json"))

    def run(self, path: Path, header: Header) -> dict[str, Any]:
        for other in header.apply:
            self("apply", "-f", str(path.parent / other))
        document = yaml.safe_load(path.read_text())
        kind, name = document["kind"], document["metadata"].get("name")
        if kind == "WorkflowTemplate":
            self("template", "create", str(path))
            return self.submitted(header, ["--from", f"workflowtemplate/{name}"])
        if kind == "CronWorkflow":
            self("cron", "create", str(path))
            try:
                return self.submitted(header, ["--from", f"cronwf/{name}"])
            finally:
                self("cron", "delete", name)  # lets the background engine go
        if header.resume:
            return self.submitted(header, [str(path)])
        return json.loads(self("run", str(path), *header.args, "-o", "json", ok=False))


def node_named(wf: dict[str, Any], display: str) -> dict[str, Any]:
    """The node of this display name (of those that ran, when a skipped one shares it), or of
    this name with the workflow's name written ``@`` (``@`` is the root, ``@.onExit`` its exit
    handler)."""
    every = wf["status"]["nodes"].values()
    full = wf["metadata"]["name"] + display[1:] if display.startswith("@") else None
    nodes = [n for n in every if n.get("displayName") == display or n["name"] == full]
    if len(nodes) > 1:
        nodes = [n for n in nodes if n.get("phase") != "Skipped"]
    names = sorted(n["name"] for n in every)
    assert len(nodes) == 1, f"{len(nodes)} nodes named {display!r} among {names}"
    return nodes[0]


def field_of(wf: dict[str, Any], node: str, path: str) -> Any:
    value: Any = wf["status"] if node == "workflow" else node_named(wf, node)
    for key in path.split("."):
        if key == "parameters" and isinstance(value.get(key), list):
            value = {p["name"]: p.get("value") for p in value[key]}
        else:
            value = value.get(key)
        if value is None:
            return None
    return value


def check(wf: dict[str, Any], node: str, path: str, op: str, expected: str) -> None:
    actual = field_of(wf, node, path)
    text = json.dumps(actual) if isinstance(actual, bool) else str(actual).strip()
    if op == "=":
        assert text == expected, f"{node}.{path} is {text!r}, expected {expected!r}"
    else:
        assert re.search(expected, text), f"{node}.{path} is {text!r}, not ~ {expected!r}"


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    header = read_header(path)
    env = {"ARGOSY_ENGINE_IDLE_SECONDS": "1"}
    with contextlib.ExitStack() as stack:
        if header.kubernetes:
            double = stack.enter_context(Double(root=tmp_path / "pods"))
            env["KUBECONFIG"] = str(double.write_kubeconfig(tmp_path / "kubeconfig"))
        if header.plugin:
            assert header.plugin == "argosy-http", f"no such example plugin: {header.plugin}"
            env.update(request.getfixturevalue("plugin_env"))
            header.args += ["-p", f"url={stack.enter_context(http_server())}"]
        wf = Runner(tmp_path / "home", env).run(path, header)
    assert wf["status"]["phase"] == header.phase, wf["status"].get("message")
    for node, field_path, op, expected in header.checks:
        check(wf, node, field_path, op, expected)
