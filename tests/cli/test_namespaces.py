"""A namespace is a Kubernetes name (an RFC 1123 label) wherever it enters: CLI -n, the store,
the Client, and the remote service, which would otherwise put it in a URL path."""

from __future__ import annotations

from pathlib import Path

import pytest

from argosy.api.remote import RemoteService
from argosy.client import Client
from argosy.errors import InvalidName, InvalidWorkflow
from argosy.store import Store

BAD = ["Team", "a_b", "../default", "a/b", "", "x" * 64]
HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: hello}
spec:
  entrypoint: main
  templates: [{name: main, container: {image: busybox, command: ["true"]}}]
"""


@pytest.mark.parametrize("namespace", ["Team", "a_b", "../default"])
def test_cli_refuses_an_invalid_namespace(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                          namespace: str) -> None:
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(HELLO)
    for args in (["list", "-n", namespace], ["get", "-n", namespace, "hello"],
                 ["delete", "-n", namespace, "hello"],
                 ["submit", "-n", namespace, str(manifest)]):
        result = cli(*args)
        assert result.code != 0, args
        assert "invalid namespace" in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("namespace", BAD)
def test_store_refuses_an_invalid_namespace(tmp_path: Path, namespace: str) -> None:
    store = Store(tmp_path)
    try:
        with pytest.raises(InvalidName, match="invalid namespace"):
            store.find(namespace, "x")
        with pytest.raises(InvalidName, match="invalid namespace"):
            store.list(namespace)
        with pytest.raises(InvalidName, match="invalid namespace"):
            store.create_workflow({"metadata": {"name": "x", "namespace": namespace}})
        assert store.list(None) == []
    finally:
        store.close()


@pytest.mark.parametrize("namespace", ["Team", "../default", "a/b"])
def test_remote_service_refuses_before_any_request(namespace: str) -> None:
    # Nothing listens on port 9: a request would fail with "cannot reach", not this.
    remote = RemoteService("http://127.0.0.1:9")
    for call in (lambda: remote.get(namespace, "x"), lambda: remote.delete(namespace, "x"),
                 lambda: remote.list(namespace), lambda: remote.suspend(namespace, "x"),
                 lambda: remote.artifact(namespace, "x", "n", "a")):
        with pytest.raises(InvalidName, match="invalid namespace"):
            call()


def test_client_refuses_an_invalid_namespace(tmp_path: Path) -> None:
    with pytest.raises(InvalidName, match="invalid namespace"):
        Client(tmp_path, namespace="Team")
    client = Client(tmp_path)
    with pytest.raises(InvalidName, match="invalid namespace"):
        client.get("hello", namespace="a_b")
    with pytest.raises(InvalidWorkflow, match=r"metadata\.namespace: invalid namespace"):
        client.submit(HELLO, namespace="a_b")


def test_auth_token_refuses_an_invalid_namespace(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("auth", "token", "--namespace", "Team_A")
    assert result.code == 2, result.stderr
    assert "invalid namespace 'Team_A'" in result.stderr
    assert cli("auth", "token", "--namespace", "team-a").code == 0
