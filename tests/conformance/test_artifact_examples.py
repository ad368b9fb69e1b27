"""Argo's class-(b) examples that need artifacts, with our own table of expected outcomes.

EXPECTED.tsv lists only the examples that need nothing beyond a cluster's basics; these need an
artifact repository (argosy's local one), raw, http or git sources. Examples that fetch from
the internet run against a local HTTP server and a local git repository instead: the manifest
is read from the corpus and only its URL is replaced, in memory.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.test_argo_examples import argosay, by_display, one, pod_logs
from tests.conftest import ARGO_EXAMPLES, run_cli

Check = Callable[[dict[str, Any], dict[str, str], Path], None]


def log_of(name: str, text: str) -> Check:
    def check(wf: dict[str, Any], logs: dict[str, str], home: Path) -> None:
        assert logs[name].rstrip("\n") == text, logs

    return check


def all_logs_contain(*texts: str) -> Check:
    def check(wf: dict[str, Any], logs: dict[str, str], home: Path) -> None:
        joined = "\n".join(logs.values())
        for text in texts:
            assert text in joined, logs

    return check


def check_global(wf: dict[str, Any], logs: dict[str, str], home: Path) -> None:
    [art] = wf["status"]["outputs"]["artifacts"]
    assert art["name"] == "my-global-art" and art["path"] == "/tmp/hello_world.txt"
    assert "hello world" in logs["consume-global-param"], logs
    assert "hello world" in logs["consume-global-art"], logs


def check_map_reduce(wf: dict[str, Any], logs: dict[str, str], home: Path) -> None:
    assert len(by_display(wf, "map(3:3)")) == 1
    total = home / "artifacts" / wf["metadata"]["name"] / "total.json"
    assert json.loads(total.read_text()) == {"total": 20}


def check_subpath(wf: dict[str, Any], logs: dict[str, str], home: Path) -> None:
    assert logs["list-artifact"].strip() == "hello_world.txt"
    assert logs["consume-artifact"].strip() == "hello world"


def check_gc(wf: dict[str, Any], logs: dict[str, str], home: Path) -> None:
    # OnWorkflowCompletion for one artifact, OnWorkflowDeletion (later) for the other.
    assert sorted(p.name for p in (home / "artifacts").iterdir()) == ["on-deletion.txt"]


#: file -> (expected phase, what else its notes promise).
EXAMPLES: dict[str, tuple[str, Check | None]] = {
    "artifact-passing.yaml": ("Succeeded", log_of("consume-artifact", "hello world")),
    "artifact-disable-archive.yaml": ("Succeeded", all_logs_contain("hello world")),
    "artifact-passing-subpath.yaml": ("Succeeded", check_subpath),
    "artifact-gc-workflow.yaml": ("Succeeded", check_gc),
    "artifact-path-placeholders.yaml": ("Succeeded", None),
    "global-outputs.yaml": ("Succeeded", check_global),
    "handle-large-output-results.yaml": ("Succeeded", all_logs_contain('"a"', '"c"')),
    "input-artifact-raw.yaml": ("Succeeded", all_logs_contain("this is\nthe raw file\ncontents")),
    "key-only-artifact.yaml": ("Succeeded", all_logs_contain("hello")),
    "map-reduce.yaml": ("Succeeded", check_map_reduce),
    "nested-workflow.yaml": ("Succeeded",
                             all_logs_contain("input artifact contents:\nhello world")),
    "arguments-artifacts.yaml": ("Succeeded", all_logs_contain("kubectl served over http")),
    "input-artifact-http.yaml": ("Succeeded", all_logs_contain("kubectl served over http")),
    "input-artifact-git.yaml": ("Succeeded", all_logs_contain("v2.1.1-local")),
}

# Steps that write into /mnt, a directory of root's: as another user (tests/nonroot), a step
# cannot, as that user could not on the host.
ROOT_ONLY = {"key-only-artifact.yaml", "map-reduce.yaml"}

KUBECTL_URL = ("https://storage.googleapis.com/kubernetes-release/release/v1.8.0/bin/linux/"
               "amd64/kubectl")
GIT_URL = "https://github.com/argoproj/argo-workflows.git"


class _Kubectl(http.server.BaseHTTPRequestHandler):
    BODY = b"#!/bin/sh\necho kubectl served over http\n"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_sources(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A local HTTP server for the kubectl URL and a local repository for argo's own."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Kubectl)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    repo = tmp_path / "argo-workflows"
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    repo.mkdir()
    (repo / "VERSION").write_text("v2.1.1-local\n")
    for args in (["init", "-q"], ["add", "VERSION"], ["commit", "-qm", "v"], ["tag", "v2.1.1"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)
    yield {KUBECTL_URL: f"http://127.0.0.1:{server.server_address[1]}/kubectl",
           GIT_URL: f"file://{repo}"}
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_artifact_example(name: str, tmp_path: Path, local_sources: dict[str, str]) -> None:
    path = ARGO_EXAMPLES / name
    if name in ROOT_ONLY and os.geteuid() != 0:
        pytest.skip("its steps write into /mnt, which only root may")
    if not path.exists():
        pytest.skip("the conformance corpus (../shared/conformance) is not beside this clone")
    text = path.read_text()
    for remote, local in local_sources.items():
        text = text.replace(remote, local)
    home = tmp_path / "home"
    result = run_cli("run", "-", "-o", "json", home=home, stdin=text, timeout=300,
                     env=argosay(home))
    assert result.code in (0, 1), result.stderr
    wf = result.json()
    phase, check = EXAMPLES[name]
    failed = {n["displayName"]: n.get("message") for n in wf["status"]["nodes"].values()
              if n["phase"] not in ("Succeeded", "Skipped", "Omitted")}
    assert wf["status"]["phase"] == phase, failed
    if check is not None:
        check(wf, pod_logs(home, wf), home)
    assert one(wf, wf["metadata"]["name"])["phase"] == phase
