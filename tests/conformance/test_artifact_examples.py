"""Argo's class-(b) examples that need artifacts, with our own table of expected outcomes.

EXPECTED.tsv lists only the examples that need nothing beyond a cluster's basics; these need an
artifact repository (argosy's local one), raw, http or git sources. Examples that fetch from
the internet run against a local HTTP server and a local git repository instead: the manifest
is read from the corpus and only its URL is replaced, in memory. Those that need S3 run
against a real S3-protocol server on loopback (moto's), their endpoint replaced likewise.
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


# ---- examples that need S3: against a real S3-protocol server on loopback -------------------


def hello_in_bucket(s3: Any) -> bytes:
    """What output-artifact-s3.yaml's tarball of /tmp holds of hello_world.txt."""
    import io
    import tarfile

    body = s3.get_object(Bucket="my-bucket", Key="path/in/bucket/hello_world.txt.tgz")
    with tarfile.open(fileobj=io.BytesIO(body["Body"].read())) as tf:
        member = tf.extractfile("tmp/hello_world.txt")
        return member.read() if member is not None else b""


#: file -> expected phase, for the examples whose S3 endpoint becomes the local server.
S3_EXAMPLES = {"input-artifact-s3.yaml": "Succeeded", "output-artifact-s3.yaml": "Succeeded",
               "key-only-artifact.yaml": "Succeeded", "data-transformations.yaml": "Succeeded"}
# data-transformations.yaml lists my-bucket and fetches each key it keeps key-only, from the
# workflow's repository as Argo resolves those: both hold the logs.
LOGS = {"logs/a/main.log": b"log a\n", "logs/b/main.log": b"log b\n", "logs/c/other.txt": b"c"}


@pytest.mark.parametrize("name", sorted(S3_EXAMPLES))
def test_s3_artifact_example(name: str, tmp_path: Path) -> None:
    """Argo's own S3 examples, their endpoint (s3.amazonaws.com, over HTTPS) replaced in memory
    by the local server (``insecure: true``, as it serves HTTP); key-only-artifact.yaml runs
    against an S3 repository set in config.yaml."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    import re

    from argosy.objects import ObjectService
    from argosy.store import Store
    from tests.artifacts.s3server import CREDENTIALS, client, s3_server

    path = ARGO_EXAMPLES / name
    if name in ROOT_ONLY and os.geteuid() != 0:
        pytest.skip("its steps write into /mnt, which only root may")
    if not path.exists():
        pytest.skip("the conformance corpus (../shared/conformance) is not beside this clone")
    home = tmp_path / "home"
    env = {**argosay(home), **CREDENTIALS}
    with s3_server() as endpoint:
        s3 = client(endpoint)
        for bucket in ("my-bucket-name", "my-bucket", "repository"):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket="my-bucket-name", Key="path/in/bucket", Body=b"from s3\n")
        if name == "data-transformations.yaml":
            for key, body in LOGS.items():
                for bucket in ("my-bucket", "repository"):
                    s3.put_object(Bucket=bucket, Key=key, Body=body)
        (home / "config.yaml").write_text(
            f"artifactRepository: {{s3: {{endpoint: '{endpoint}', bucket: repository, "
            "insecure: true}}\n")
        store = Store(home)
        try:
            ObjectService(store).put({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-s3-credentials"},
                "stringData": {"accessKey": "AKIDEXAMPLE", "secretKey": "s3cr3t"}})
        finally:
            store.close()
        text = re.sub(r"^(\s*)endpoint: s3\.amazonaws\.com$",
                      lambda m: f"{m[1]}endpoint: {endpoint}\n{m[1]}insecure: true",
                      path.read_text(), flags=re.M)
        result = run_cli("run", "-", "-o", "json", home=home, stdin=text, timeout=300, env=env)
        for key in LOGS if name == "data-transformations.yaml" else ():
            for bucket in ("my-bucket", "repository"):  # moto's buckets outlive its server
                s3.delete_object(Bucket=bucket, Key=key)
        assert result.code in (0, 1), result.stderr
        wf = result.json()
        failed = {n["displayName"]: n.get("message") for n in wf["status"]["nodes"].values()
                  if n["phase"] not in ("Succeeded", "Skipped", "Omitted")}
        assert wf["status"]["phase"] == S3_EXAMPLES[name], failed
        logs = pod_logs(home, wf)
        if name == "input-artifact-s3.yaml":
            assert any("/my-artifact" in text for text in logs.values()), logs
        elif name == "output-artifact-s3.yaml":
            assert hello_in_bucket(s3) == b"hello world\n"
        elif name == "data-transformations.yaml":
            [listed] = by_display(wf, "list-log-files")
            assert json.loads(listed["outputs"]["result"]) == ["logs/a/main.log",
                                                               "logs/b/main.log"]
            assert sorted(logs[n] for n in logs if n.startswith("process-logs")) == [
                "logs/a/main.log\nlog a\n", "logs/b/main.log\nlog b\n"], logs
        else:
            assert "hello" in "\n".join(logs.values()), logs
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="repository")["Contents"]]
            assert keys == ["my-file"], keys
