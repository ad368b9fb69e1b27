"""The example third-party plugin ``argosy-http``, through the real CLI against a loopback server.

Where the distribution is installed (``pip install -e examples/plugins/argosy-http``) the tests
use it; elsewhere, CI included, they lay out the same metadata pip would (a dist-info on
``PYTHONPATH``), so they run either way.
"""

from __future__ import annotations

import importlib.metadata
import json
import socket
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

PLUGIN_DIR = REPO / "examples" / "plugins" / "argosy-http"


# ---- the plugin, installed or laid out -----------------------------------------------------


def _installed() -> bool:
    try:
        dist = importlib.metadata.distribution("argosy-http")
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(ep.group == "argosy" and ep.name == "http" for ep in dist.entry_points)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if _installed():
        return {}
    root = tmp_path_factory.mktemp("site")
    dist = root / "argosy_http-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: argosy-http\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[argosy]\nhttp = argosy_http\n")
    return {"PYTHONPATH": f"{root}:{PLUGIN_DIR / 'src'}"}


# ---- a loopback HTTP server ------------------------------------------------------------------


class Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()  # frees /wait
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.handle_any()

            def do_POST(self) -> None:
                self.handle_any()

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                server.requests.append({"method": self.command, "path": self.path,
                                        "headers": dict(self.headers), "body": body})
                if self.path == "/ok":
                    self.reply(200, "hello from the server", [("x-served-by", "test"),
                                                              ("x-multi", "a"), ("x-multi", "b")])
                elif self.path.startswith("/status/"):
                    self.reply(int(self.path.rsplit("/", 1)[1]), "status page")
                elif self.path == "/echo":
                    self.reply(200, json.dumps({"method": self.command, "body": body,
                                                "token": self.headers.get("X-Token")}))
                elif self.path == "/wait":
                    self.reply(200 if server.release.wait(60) else 504, "released")
                elif self.path == "/release":
                    server.release.set()
                    self.reply(200, "ok")
                elif self.path == "/slow":
                    server.release.wait(60)
                    self.reply(200, "late")
                else:
                    self.reply(404, "no such page")

            def reply(self, code: int, text: str,
                      headers: list[tuple[str, str]] | None = None) -> None:
                data = text.encode()
                self.send_response(code)
                for name, value in headers or []:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.httpd.shutdown()
    srv.httpd.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- helpers -----------------------------------------------------------------------------------


def workflow(name: str, templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": templates[0]["name"], "templates": templates, **spec}}


def run_wf(cli, plugin_env, tmp_path: Path, wf: dict[str, Any]) -> tuple[int, dict, str]:
    path = tmp_path / f"{wf['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(wf))
    result = cli("run", str(path), "-o", "json", env=plugin_env)
    assert result.code in (0, 1), result.stderr
    return result.code, result.json(), result.stderr


def nodes_by_name(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def single_http(name: str, http: dict[str, Any]) -> dict[str, Any]:
    return workflow(name, [{"name": "call", "http": http}])


# ---- the tests ---------------------------------------------------------------------------------


def test_plugins_lists_http_from_its_distribution(cli, plugin_env) -> None:
    result = cli("plugins", env={**plugin_env, "COLUMNS": "300"})
    assert result.code == 0
    assert "warning" not in result.stderr
    row = next(line for line in result.stdout.splitlines() if line.split()[:1] == ["http"])
    assert row.split() == ["http", "argosy_http", "argosy-http", "0.1.0", "type", "http",
                           "template_types", "ok"]


def test_distribution_declares_the_entry_point() -> None:
    meta = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "argosy-http"
    assert meta["project"]["entry-points"]["argosy"] == {"http": "argosy_http"}
    assert "argosy>=0.1" in meta["project"]["dependencies"]
    assert (PLUGIN_DIR / "src" / "argosy_http" / "__init__.py").is_file()


def test_get_succeeds_and_result_is_the_body(cli, plugin_env, tmp_path, server) -> None:
    wf = single_http("http-ok", {
        "url": f"{server.url}/ok",
        "successCondition": 'response.statusCode == 200 && response.body contains "hello" && '
                            'response.headers["X-Served-By"][0] == "test" && '
                            'response.headers["X-Multi"][1] == "b"'})
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    node = nodes_by_name(out)["http-ok"]
    assert (code, out["status"]["phase"]) == (0, "Succeeded")
    assert node["type"] == "HTTP"
    assert node["phase"] == "Succeeded"
    assert node["outputs"]["result"] == "hello from the server"
    assert [r["method"] for r in server.requests] == ["GET"]


def test_method_headers_body_and_result_downstream(cli, plugin_env, tmp_path, server) -> None:
    wf = workflow("http-chain", [
        {"name": "main", "dag": {"tasks": [
            {"name": "post", "template": "post", "arguments": {"parameters": [
                {"name": "greeting", "value": "hi there"}]}},
            {"name": "show", "template": "show", "depends": "post", "arguments": {
                "parameters": [{"name": "reply", "value": "{{tasks.post.outputs.result}}"}]}},
        ]}},
        {"name": "post", "inputs": {"parameters": [{"name": "greeting"}]},
         "http": {"url": f"{server.url}/echo", "method": "POST",
                  "headers": [{"name": "X-Token", "value": 42}],
                  "body": "{{inputs.parameters.greeting}}"}},
        {"name": "show", "inputs": {"parameters": [{"name": "reply"}]},
         "container": {"image": "busybox", "command": ["echo", "got {{inputs.parameters.reply}}"]}},
    ])
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    nodes = nodes_by_name(out)
    assert code == 0, nodes
    echoed = {"method": "POST", "body": "hi there", "token": "42"}
    assert json.loads(nodes["post"]["outputs"]["result"]) == echoed
    assert nodes["show"]["outputs"]["result"] == "got " + json.dumps(echoed)


def test_failed_success_condition(cli, plugin_env, tmp_path, server) -> None:
    wf = single_http("http-cond", {"url": f"{server.url}/ok",
                                   "successCondition": "response.statusCode == 201"})
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    node = nodes_by_name(out)["http-cond"]
    assert (code, out["status"]["phase"]) == (1, "Failed")
    assert node["phase"] == "Failed"
    assert node["message"] == "successCondition 'response.statusCode == 201' evaluated false"
    assert node["outputs"]["result"] == "hello from the server"  # kept, as Argo does


def test_default_condition_is_2xx(cli, plugin_env, tmp_path, server) -> None:
    wf = workflow("http-2xx", [
        {"name": "main", "steps": [[
            {"name": "created", "template": "get", "arguments": {"parameters": [
                {"name": "path", "value": "status/201"}]}},
            {"name": "missing", "template": "get", "continueOn": {"failed": True},
             "arguments": {"parameters": [{"name": "path", "value": "status/404"}]}},
        ]]},
        {"name": "get", "inputs": {"parameters": [{"name": "path"}]},
         "http": {"url": f"{server.url}/{{{{inputs.parameters.path}}}}"}},
    ])
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    nodes = nodes_by_name(out)
    assert code == 0
    assert nodes["created"]["phase"] == "Succeeded"
    assert nodes["missing"]["phase"] == "Failed"
    assert nodes["missing"]["message"] == "received non-2xx response code: 404"
    assert nodes["missing"]["outputs"]["result"] == "status page"


def test_unreachable_url(cli, plugin_env, tmp_path) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/api"
    code, out, _ = run_wf(cli, plugin_env, tmp_path, single_http("http-down", {"url": url}))
    node = nodes_by_name(out)["http-down"]
    assert (code, node["phase"]) == (1, "Failed")
    assert node["message"] == (
        f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused')
    assert "result" not in (node.get("outputs") or {})


def test_timeout(cli, plugin_env, tmp_path, server) -> None:
    url = f"{server.url}/slow"
    wf = single_http("http-slow", {"url": url, "timeoutSeconds": 1})
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    node = nodes_by_name(out)["http-slow"]
    assert (code, node["phase"]) == (1, "Failed")
    assert node["message"] == f'Get "{url}": context deadline exceeded (timeoutSeconds: 1)'


def test_the_default_timeout_comes_from_the_plugins_config(cli, plugin_env, tmp_path, server,
                                                           argosy_home) -> None:
    argosy_home.mkdir(parents=True, exist_ok=True)
    (argosy_home / "config.yaml").write_text("plugins:\n  http: {timeoutSeconds: 1}\n")
    url = f"{server.url}/slow"
    code, out, _ = run_wf(cli, plugin_env, tmp_path, single_http("http-slow", {"url": url}))
    node = nodes_by_name(out)["http-slow"]
    assert (code, node["phase"]) == (1, "Failed")
    assert node["message"] == f'Get "{url}": context deadline exceeded (timeoutSeconds: 1)'


def test_http_nodes_take_no_pod_slot(cli, plugin_env, tmp_path, server) -> None:
    """With parallelism 1, a waiting HTTP node must leave the one slot to the pod that frees
    it; if it took the slot, the pod would never start and the request would time out."""
    release = (f"import urllib.request; "
               f"print(urllib.request.urlopen('{server.url}/release').read().decode())")
    wf = workflow("http-slots", [
        {"name": "main", "steps": [[
            {"name": "wait", "template": "wait"},
            {"name": "release", "template": "release"},
        ]]},
        {"name": "wait", "http": {"url": f"{server.url}/wait", "timeoutSeconds": 50}},
        {"name": "release", "container": {"image": "python",
                                          "command": ["python3", "-c", release]}},
    ], parallelism=1)
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    nodes = nodes_by_name(out)
    assert code == 0, {k: (n["phase"], n.get("message")) for k, n in nodes.items()}
    assert nodes["wait"]["outputs"]["result"] == "released"
    assert nodes["release"]["outputs"]["result"] == "ok"


def test_secret_headers_are_a_clear_error(cli, plugin_env, tmp_path, server) -> None:
    wf = single_http("http-secret", {"url": f"{server.url}/ok", "headers": [
        {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}}]})
    code, out, _ = run_wf(cli, plugin_env, tmp_path, wf)
    node = nodes_by_name(out)["http-secret"]
    assert (code, node["phase"]) == (1, "Error")
    assert node["message"] == (
        "http.headers[0] (Authorization): valueFrom.secretKeyRef (api/token) is not supported: "
        "this engine has no Kubernetes secrets; pass the value as a parameter instead")
    assert server.requests == []


def test_lint_checks_the_http_body(cli, plugin_env, tmp_path) -> None:
    wf = workflow("http-lint", [{"name": "call", "http": {
        "url": "ftp://example.invalid/x", "method": "GE T", "timeoutSeconds": 0,
        "successCondition": "response.statusCode ==", "bodyFrom": {"bytes": "%%%"}}}])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(wf, sort_keys=False))
    result = cli("lint", "-o", "simple", str(path), env=plugin_env)
    assert result.code == 2
    faults = [line.split(": ", 1)[1] for line in result.stdout.splitlines()]
    assert 'spec.templates[0].http.method: invalid method "GE T"' in faults
    assert ('spec.templates[0].http.url: unsupported protocol scheme "ftp": give an http:// or '
            "https:// URL") in faults
    assert "spec.templates[0].http.timeoutSeconds: must be a positive number of seconds" in faults
    assert "spec.templates[0].http.bodyFrom.bytes: not valid base64" in faults
    assert any(f.startswith("spec.templates[0].http.successCondition: invalid expression "
                            "'response.statusCode =='") for f in faults), faults
    missing_url = workflow("http-nourl", [{"name": "call", "http": {"method": "GET"}}])
    path.write_text(yaml.safe_dump(missing_url))
    result = cli("lint", "-o", "simple", str(path), env=plugin_env)
    assert result.code == 2
    assert "spec.templates[0].http.url: field required" in result.stdout
