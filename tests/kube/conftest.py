"""Fixtures: an API server double per test, the official client and kubectl pointed at it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from tests.kube.double import Double
from tests.nonroot.test_as_nobody import scratch  # noqa: F401  (a fixture)


@pytest.fixture
def double(tmp_path: Path) -> Iterator[Double]:
    with Double(root=tmp_path / "pods", bookmark_every=0.2) as server:
        yield server


def real_cluster(config: pytest.Config) -> bool:
    """``pytest -m cluster``: the tests marked ``cluster`` run against $KUBECONFIG's cluster."""
    return "cluster" in (config.getoption("markexpr") or "")


@pytest.fixture
def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if real_cluster(request.config):
        if not os.environ.get("KUBECONFIG"):
            pytest.skip("pytest -m cluster runs against the cluster $KUBECONFIG names, and "
                        "KUBECONFIG is not set")
        return Path(os.environ["KUBECONFIG"])
    double: Double = request.getfixturevalue("double")
    return double.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def image_without_sh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An image whose PATH finds no sh, in the double's image mapping."""
    images = tmp_path / "images.yaml"
    images.write_text(yaml.safe_dump({"bare:1": {"env": {"PATH": "/nonexistent"}}}))
    monkeypatch.setenv("ARGOSY_IMAGE_ENTRYPOINTS", str(images))
    return "bare:1"


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(str(kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


class Kubectl:
    """Runs the real kubectl against the double."""

    def __init__(self, binary: str, kubeconfig: Path, home: Path) -> None:
        self.binary, self.home = binary, home
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}

    def command(self, *args: str) -> list[str]:
        return [self.binary, "--cache-dir", str(self.home / "kube-cache"), *args]

    def __call__(self, *args: str, input: str | None = None, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:
        """kubectl ARGS; a non-zero exit fails the test unless ``check=False``."""
        done = subprocess.run(self.command(*args), input=input, env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")
        return done


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed here: the kubectl checks of the double need it")
    return Kubectl(binary, kubeconfig, tmp_path)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (the bound only stops a hang)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def pod_manifest(name: str, script: str, **spec: Any) -> dict[str, Any]:
    """A one-container pod running ``sh -c script`` that is not restarted."""
    container = {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [container], **spec}}


def finished(core: client.CoreV1Api, name: str, namespace: str = "default") -> Any:
    """The pod once its phase is Succeeded or Failed."""
    def done() -> Any:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase in ("Succeeded", "Failed") else None
    return wait_for(done, f"pod {name} to finish")


def install_crd(api: client.ApiClient, group: str, version: str, kind: str, plural: str,
                short_names: tuple[str, ...] = ()) -> None:
    """A namespaced CRD with a status subresource and an open schema."""
    names = {"plural": plural, "singular": kind.lower(), "kind": kind}
    if short_names:
        names["shortNames"] = list(short_names)
    client.ApiextensionsV1Api(api).create_custom_resource_definition({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced", "names": names, "versions": [{
            "name": version, "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object",
                                           "x-kubernetes-preserve-unknown-fields": True}}}]}})
