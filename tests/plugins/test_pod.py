"""A container or script template's pod: ``daemon: true`` with its readinessProbe, sidecars and
initContainers, on real processes, with the engine in this process.

Daemons and sidecars serve HTTP on a free port of the host's loopback (every node shares the
host's network, so ``{{steps.X.ip}}`` is 127.0.0.1). Files that must outlive a node, or be seen
by the test, live in a directory outside /tmp: a node's /tmp is private to its pod.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import WorkflowService, submit
from argosy.engine.run import Engine
from argosy.spec.lint import lint
from argosy.spec.loader import load_documents
from argosy.store import Store
from tests.conftest import REPO, run_cli

HEAD = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
"""
# A daemon or sidecar: answers "pong" on 127.0.0.1:PORT, after writing its pid to PIDFILE.
SERVER = """
  - name: server
    inputs: {parameters: [{name: port}, {name: pidfile, default: /dev/null}]}
    %(extra)s
    script:
      image: python:3
      command: [python3]
      source: |
        import http.server, os
        open("{{inputs.parameters.pidfile}}", "a").write(f"{os.getpid()}\\n")
        class Pong(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(b"pong")
            def log_message(self, *args):
                pass
        http.server.HTTPServer(("127.0.0.1", {{inputs.parameters.port}}), Pong).serve_forever()
%(probe)s
"""
HTTP_PROBE = """\
      readinessProbe:
        httpGet: {path: /ready, port: "{{inputs.parameters.port}}"}
        periodSeconds: 1
"""
# Fetches http://HOST:PORT/ once; its result is what the server answered.
CLIENT = """
  - name: client
    inputs: {parameters: [{name: host}, {name: port}]}
    container:
      image: python:3
      command: [python3, -c, "import urllib.request as u; print(u.urlopen(
        'http://{{inputs.parameters.host}}:{{inputs.parameters.port}}/').read().decode())"]
"""
SLEEP = """
  - name: sleep
    inputs: {parameters: [{name: seconds, default: "1"}]}
    container: {image: alpine, command: [sleep, "{{inputs.parameters.seconds}}"]}
"""


def awaiting(*files: Path) -> str:
    """A template ``wait`` that ends once ``files`` exist, and the engine had time to see the
    processes that wrote them end."""
    test = " && ".join(f"[ -e {f} ]" for f in files)
    return f"""
  - name: wait
    container: {{image: alpine, command: [sh, -c, "until {test}; do sleep 0.1; done; sleep 2"]}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory the nodes and the test both see: a node's /tmp is its own, and so are its
    writes elsewhere unless the sandbox gives it no layer over the host's files."""
    monkeypatch.setenv("ARGOSY_SANDBOX", "tmp")
    path = Path("/var/tmp") / f"argosy-pod-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def server(probe: str = HTTP_PROBE, extra: str = "") -> str:
    return SERVER % {"probe": probe, "extra": extra}


def run_workflow(templates: str, home: Path) -> tuple[dict[str, Any], WorkflowService]:
    """Run a workflow of ``templates`` (YAML list items), entrypoint main, to its end."""
    store = Store(home)
    record = submit(store, HEAD + "  entrypoint: main\n  templates:\n" + templates.lstrip("\n"))
    asyncio.run(Engine(store).run(record.uid))
    return store.workflow(store.get(record.uid)), WorkflowService(store)


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"].get("nodes", {}).values()}


def listening(port: int) -> bool:
    """Whether a server still listens on the port (a node's pids are its own namespace's)."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---- daemon: true ----------------------------------------------------------------------------


def test_daemon_step_serves_the_next_steps_and_ends_with_its_scope(tmp_path: Path,
                                                                    shared: Path) -> None:
    port, pidfile = free_port(), shared / "pids"
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - name: server
        template: server
        arguments: {{parameters: [{{name: port, value: "{port}"}},
                                  {{name: pidfile, value: "{pidfile}"}}]}}
    - - name: client
        template: client
        arguments: {{parameters: [{{name: host, value: "{{{{steps.server.ip}}}}"}},
                                  {{name: port, value: "{port}"}}]}}
""" + server(extra="daemon: true") + CLIENT, tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    assert found["client"]["outputs"]["result"] == "pong"
    assert found["client"]["inputs"]["parameters"][0]["value"] == "127.0.0.1"
    daemon = found["server"]
    # Killed when its steps template ended: Succeeded, as Argo's killDaemonedChildren leaves it.
    assert daemon["phase"] == "Succeeded" and "daemoned" not in daemon
    assert daemon["podIP"] == "127.0.0.1"
    assert daemon["finishedAt"] >= found["client"]["finishedAt"]
    assert len(pidfile.read_text().split()) == 1 and not listening(port)


def test_daemon_task_in_a_dag_meets_bare_depends_and_a_tcp_probe(tmp_path: Path) -> None:
    port = free_port()
    probe = f"""\
      readinessProbe:
        tcpSocket: {{port: {port}}}
        periodSeconds: 1
"""
    wf, _ = run_workflow(f"""
  - name: main
    dag:
      tasks:
      - name: server
        template: server
        arguments: {{parameters: [{{name: port, value: "{port}"}}]}}
      - name: client
        depends: server
        template: client
        arguments: {{parameters: [{{name: host, value: "{{{{tasks.server.ip}}}}"}},
                                  {{name: port, value: "{port}"}}]}}
""" + server(probe, extra="daemon: true") + CLIENT, tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    assert found["client"]["outputs"]["result"] == "pong"
    assert found["server"]["phase"] == "Succeeded"


def test_exec_probe_runs_in_the_daemons_view(tmp_path: Path, shared: Path) -> None:
    # The daemon is ready once it wrote /tmp/ready, its own /tmp, where the probe looks.
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - name: daemon
        template: daemon
    - - name: after
        template: after
  - name: daemon
    daemon: true
    container:
      image: alpine
      command: [sh, -c, "sleep 0.5; date +%s.%N > /tmp/ready; date +%s.%N > {shared}/ready;
                         sleep 600"]
      readinessProbe:
        exec: {{command: [test, -f, /tmp/ready]}}
        periodSeconds: 1
  - name: after
    container: {{image: alpine, command: [sh, -c, "date +%s.%N; cat {shared}/ready"]}}
""", tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    started, ready = (float(x) for x in nodes(wf)["after"]["outputs"]["result"].split())
    assert started >= ready  # the next step waited for the probe to pass


def test_daemon_that_exits_by_itself_fails(tmp_path: Path, shared: Path) -> None:
    # Daemoned once started (no probe), so the next step runs; it then ends on its own, which
    # fails its node in Argo even with exit code 0: a daemon is meant to serve.
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - {{name: zero, template: quits, arguments: {{parameters: [{{name: code, value: "0"}}]}}}}
      - {{name: three, template: quits, arguments: {{parameters: [{{name: code, value: "3"}}]}}}}
    - - {{name: wait, template: wait}}
  - name: quits
    daemon: true
    inputs: {{parameters: [{{name: code}}]}}
    container:
      image: alpine
      command: [sh, -c, "sleep 0.3; touch {shared}/{{{{inputs.parameters.code}}}};
                         exit {{{{inputs.parameters.code}}}}"]
""" + awaiting(shared / "0", shared / "3"), tmp_path / "home")
    found = nodes(wf)
    assert found["wait"]["phase"] == "Succeeded"
    assert found["zero"]["phase"] == "Failed" and "daemoned" not in found["zero"]
    assert (found["three"]["phase"], found["three"]["message"]) == (
        "Failed", "Error (exit code 3)")
    assert wf["status"]["phase"] == "Succeeded"  # its step group had gone on, as in Argo


def test_a_daemon_that_fails_is_retried_and_the_new_attempt_serves(tmp_path: Path,
                                                                    shared: Path) -> None:
    marker = shared / "first"
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - name: daemon
        template: daemon
    - - {{name: wait, template: wait}}
  - name: daemon
    daemon: true
    retryStrategy: {{limit: 2}}
    container:
      image: alpine
      command: [sh, -c, "if [ ! -e {marker} ]; then touch {marker}; sleep 0.3; exit 1; fi;
                         touch {shared}/second; sleep 600"]
""" + awaiting(shared / "second"), tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    assert found["daemon"]["type"] == "Retry" and found["daemon"]["phase"] == "Succeeded"
    assert found["daemon(0)"]["phase"] == "Failed"
    assert found["daemon(1)"]["phase"] == "Succeeded"  # killed when its scope ended


# ---- sidecars and initContainers --------------------------------------------------------------


def test_sidecar_shares_the_pods_network_and_tmp_and_ends_with_main(tmp_path: Path,
                                                                     shared: Path) -> None:
    port, pidfile = free_port(), shared / "pids"
    wf, service = run_workflow(f"""
  - name: main
    container:
      image: alpine
      command: [sh, -c, "until [ -e /tmp/up ]; do sleep 0.1; done; cat /tmp/up;
        until python3 -c \\"import urllib.request as u; print(u.urlopen(
        'http://localhost:{port}/').read().decode())\\" 2>/dev/null; do sleep 0.1; done"]
    sidecars:
    - name: web
      image: python:3
      command: [sh, -c, "echo sidecar says hi; echo $$ >> {pidfile}; echo shared > /tmp/up;
        exec python3 -m http.server --bind 127.0.0.1 {port}"]
      readinessProbe: {{tcpSocket: {{port: {port}}}}}
""", tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    root = nodes(wf)["wf"]
    assert root["outputs"]["result"].startswith("shared\n<!DOCTYPE HTML")
    assert not listening(port)
    web = service.logs("default", "wf", container="web")
    assert web[0] == ("wf", "sidecar says hi") and '"GET / HTTP/1.1" 200' in web[1][1]
    assert "sidecar says hi" not in "".join(line for _, line in service.logs("default", "wf"))


def test_init_containers_run_in_order_before_main(tmp_path: Path) -> None:
    wf, service = run_workflow("""
  - name: main
    container: {image: alpine, command: [cat, /tmp/order]}
    initContainers:
    - {name: first, image: alpine, command: [sh, -c, "sleep 0.2; echo 1 >> /tmp/order"]}
    - {name: second, image: alpine, command: [sh, -c, "echo 2 >> /tmp/order; echo init 2"]}
""", tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert nodes(wf)["wf"]["outputs"]["result"] == "1\n2"
    assert service.logs("default", "wf", container="second") == [("wf", "init 2")]


def test_a_failing_init_container_fails_the_node_before_main_runs(tmp_path: Path,
                                                                   shared: Path) -> None:
    wf, _ = run_workflow(f"""
  - name: main
    container: {{image: alpine, command: [touch, {shared}/main-ran]}}
    initContainers:
    - {{name: ok, image: alpine, command: ["true"]}}
    - {{name: broken, image: alpine, command: [sh, -c, "exit 3"]}}
    sidecars:
    - {{name: never, image: alpine, command: [touch, {shared}/sidecar-ran]}}
""", tmp_path / "home")
    root = nodes(wf)["wf"]
    assert (root["phase"], root["message"]) == ("Failed", "broken: Error (exit code 3)")
    assert not (shared / "main-ran").exists() and not (shared / "sidecar-ran").exists()


# ---- lint -------------------------------------------------------------------------------------


def faults(templates: str) -> list[tuple[str, str]]:
    doc = load_documents(HEAD + "  entrypoint: main\n  templates:\n" + templates, "wf.yaml")[0]
    return [(f.path, f.message) for f in lint(doc.data)]


def test_lint_says_where_pods_containers_are_wrong() -> None:
    found = faults("""
  - name: main
    daemon: true
    steps: [[{name: a, template: leaf}]]
  - name: leaf
    container: {image: alpine, command: ["true"]}
    sidecars:
    - {image: alpine}
    - {name: wait, image: alpine}
    initContainers:
    - {name: main, image: alpine}
    - {name: x, image: alpine, readinessProbe: {grpc: {port: 1}}}
""")
    assert ("spec.templates[0].daemon",
            "daemon is supported on container and script templates, not steps") in found
    assert ("spec.templates[1].sidecars[0].name", "sidecars must all have container name") \
        in found
    assert ("spec.templates[1].sidecars[1].name", "'wait' is a reserved Argo container name") \
        in found
    assert ("spec.templates[1].initContainers[0].name",
            "container name 'main' is used twice in this pod") in found
    assert any(path == "spec.templates[1].initContainers[1].readinessProbe.grpc"
               and "not supported" in message for path, message in found)


# ---- readinessProbe settings ------------------------------------------------------------------


def test_probe_waits_its_initial_delay_and_needs_its_success_threshold(tmp_path: Path,
                                                                        shared: Path) -> None:
    probes = shared / "probes"
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - {{name: daemon, template: daemon}}
    - - {{name: after, template: after}}
  - name: daemon
    daemon: true
    container:
      image: alpine
      command: [sh, -c, "date +%s.%N > {shared}/started; sleep 600"]
      readinessProbe:
        exec: {{command: [sh, -c, "date +%s.%N >> {probes}"]}}
        initialDelaySeconds: 1
        periodSeconds: 1
        successThreshold: 3
  - name: after
    container: {{image: alpine, command: [sh, -c, "wc -l < {probes}"]}}
""", tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert nodes(wf)["after"]["outputs"]["result"].strip() == "3"
    # The delay counts from the container's start; `started` is stamped a shell start later, so
    # the gap seen here is the delay less that latency (tens of ms on a loaded machine). A probe
    # that ignored the delay would run within that latency of `started`.
    first = float(probes.read_text().split()[0])
    assert first - float((shared / "started").read_text()) >= 0.75


def test_a_probe_past_its_timeout_fails_and_is_stopped(tmp_path: Path, shared: Path) -> None:
    # The first check hangs past timeoutSeconds: it counts as a failure and is killed, so it
    # never reaches its end; the next one passes.
    check = f"""if mkdir {shared}/once 2>/dev/null; then sleep 30; echo late >> {shared}/log;
                fi; echo quick >> {shared}/log"""
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - {{name: daemon, template: daemon}}
  - name: daemon
    daemon: true
    container:
      image: alpine
      command: [sleep, "600"]
      readinessProbe:
        exec: {{command: [sh, -c, "{check}"]}}
        timeoutSeconds: 1
        periodSeconds: 1
""", tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert (shared / "log").read_text().split() == ["quick"]


def test_http_probe_asks_the_given_host_path_and_headers() -> None:
    import http.server
    import threading

    from argosy.plugins.pod import UserContainer, _http_get

    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("X-Probe")))
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.server_address[1]
        named = UserContainer.model_validate(
            {"name": "c", "ports": [{"name": "http", "containerPort": port}]})
        action = {"host": "127.0.0.2", "port": "http", "path": "healthz", "scheme": "HTTP",
                  "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}
        assert _http_get(action, named, 5.0)
        assert not _http_get(action | {"path": "/other"}, named, 5.0)
        assert seen == [("/healthz", "yes"), ("/other", "yes")]
    finally:
        httpd.shutdown()


@pytest.mark.parametrize("verb", ["stop", "terminate"])
def test_stop_and_terminate_kill_a_serving_daemon(verb: str, tmp_path: Path,
                                                  shared: Path) -> None:
    # As in Argo, shutdown does not fail a daemoned node: the scope it serves ends, and that
    # kills it as Succeeded; the step still running is stopped.
    store, port = Store(tmp_path / "home"), free_port()
    record = submit(store, HEAD + f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: daemon
        template: server
        arguments: {{parameters: [{{name: port, value: "{port}"}}]}}
    - - name: wait
        template: sleep
        arguments: {{parameters: [{{name: seconds, value: "600"}}]}}
""" + server(extra="daemon: true") + SLEEP)
    service = WorkflowService(store)

    async def scenario() -> None:
        run = asyncio.ensure_future(Engine(store).run(record.uid))
        while nodes(store.workflow(store.get(record.uid))).get("wait", {}).get("phase") \
                != "Running":
            await asyncio.sleep(0.05)
        getattr(service, verb)("default", "wf")
        await run

    asyncio.run(scenario())
    wf = store.workflow(store.get(record.uid))
    found = nodes(wf)
    assert wf["status"]["phase"] == "Failed"
    assert found["daemon"]["phase"] == "Succeeded" and "daemoned" not in found["daemon"]
    assert found["wait"]["phase"] == "Failed"
    assert not listening(port)


def test_the_example_runs_and_shows_each_containers_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    example = REPO / "examples" / "daemon-and-sidecar.yaml"
    result = run_cli("run", str(example), "-p", f"port={free_port()}", "-o", "json", home=home)
    assert result.code == 0, result.stderr
    wf = result.json()
    found = nodes(wf)
    assert found["ask"]["outputs"]["result"] == "hello from the daemon"
    assert found["with-sidecar"]["outputs"]["result"] == "written by the sidecar"
    name = wf["metadata"]["name"]
    logs = run_cli("logs", name, "server", "-c", "prepare", home=home)
    assert logs.code == 0, logs.stderr
    assert [line.split(": ", 1)[1] for line in logs.stdout.splitlines()] == ["page ready"]


def test_a_sidecar_that_fails_by_itself_fails_the_node(tmp_path: Path, shared: Path) -> None:
    # Killed sidecars (exit 143 on SIGTERM here) are not failures; one that failed on its own
    # before main ended is, as in Argo.
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - {{name: broken, template: broken}}
      - {{name: killed, template: killed}}
  - name: broken
    container:
      image: alpine
      command: [sh, -c, "until [ -e {shared}/crashed ]; do sleep 0.1; done; sleep 1"]
    sidecars:
    - {{name: crash, image: alpine, command: [sh, -c, "touch {shared}/crashed; exit 2"]}}
  - name: killed
    container: {{image: alpine, command: ["true"]}}
    sidecars:
    - {{name: server, image: alpine, command: [sleep, "600"]}}
""", tmp_path / "home")
    found = nodes(wf)
    assert (found["broken"]["phase"], found["broken"]["message"]) == (
        "Failed", "crash: Error (exit code 2)")
    assert found["killed"]["phase"] == "Succeeded"


def test_daemons_end_with_the_scope_that_started_them(tmp_path: Path) -> None:
    # The daemon serves an inner steps template; the step after that template finds it gone.
    port = free_port()
    wf, _ = run_workflow(f"""
  - name: main
    steps:
    - - {{name: inner, template: inner}}
    - - name: after
        template: probe
  - name: inner
    steps:
    - - name: server
        template: server
        arguments: {{parameters: [{{name: port, value: "{port}"}}]}}
    - - name: during
        template: probe
  - name: probe
    container:
      image: python:3
      command: [python3, -c, "import socket; s = socket.socket();
        print('up' if s.connect_ex(('127.0.0.1', {port})) == 0 else 'down')"]
""" + server(extra="daemon: true"), tmp_path / "home")
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    found = nodes(wf)
    assert found["during"]["outputs"]["result"] == "up"
    assert found["after"]["outputs"]["result"] == "down"
    assert found["server"]["finishedAt"] <= found["inner"]["finishedAt"]


def test_a_probe_that_cannot_run_fails_the_daemon_at_once(tmp_path: Path) -> None:
    wf, _ = run_workflow("""
  - name: main
    daemon: true
    container:
      image: alpine
      command: [sleep, "600"]
      ports: [{name: http, containerPort: 8080}]
      readinessProbe: {httpGet: {port: web}}
""", tmp_path / "home")
    root = nodes(wf)["wf"]
    assert (root["phase"], root["message"]) == (
        "Error", "main: readinessProbe port 'web' is not a number nor the name of one of the "
        "container's ports")
