"""The conformance corpus through cluster mode: each example created with `kubectl create -f`,
unchanged, run by `argosy controller` with every step a pod of the API server double, reaches
the phase it reaches locally (slow: `pytest -m slow tests/cluster/test_examples.py`).

The corpus already runs whole on the local and kubernetes executors, which cluster mode drives;
what cluster mode adds (objects, status write-back, pods owned by them) is the same for every
example. So by default every SAMPLE-th example runs here; ``ARGOSY_FULL_CORPUS=1`` runs all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from argosy import kube
from argosy.api.cluster import ClusterService
from argosy.cluster import object_nodes
from tests.cluster.conftest import CRDS, Controllers, wait_phase, workflow
from tests.conformance.test_argo_examples import (
    CHECKS,
    MANUAL,
    argosay,
    expected_phase,
    later_reason,
    rows,
)
from tests.conftest import ARGO_EXAMPLES
from tests.kube.conftest import Kubectl
from tests.kube.double import Double

UNSUPPORTED = "not supported by the kubernetes executor"
SAMPLE = 6


def sampled() -> list[dict[str, str]]:
    every = 1 if os.environ.get("ARGOSY_FULL_CORPUS") == "1" else SAMPLE
    return rows()[::every]


@pytest.mark.slow
@pytest.mark.timeout(700)
@pytest.mark.parametrize("row", sampled(), ids=lambda r: r["filename"])
def test_example_through_the_controller(row: dict[str, str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = ARGO_EXAMPLES / row["filename"]
    if row["filename"] in MANUAL:
        pytest.skip(MANUAL[row["filename"]])
    if reason := later_reason(path.read_text()):
        pytest.skip(reason)
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed here: cluster mode is driven with it")
    with Double(root=tmp_path / "pods", bookmark_every=0.2) as double:
        kubectl = Kubectl(binary, double.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path)
        kubectl("apply", "-f", str(CRDS))
        controllers = Controllers(tmp_path / "kubeconfig", tmp_path)
        env = argosay(controllers.home("a"))
        # The double's kubelet runs in this process: it maps images and finds argosay here.
        monkeypatch.setenv("ARGOSY_IMAGE_ENTRYPOINTS", str(controllers.home("a") / "images.yaml"))
        monkeypatch.setenv("PATH", env["PATH"])
        controllers.start("a", env=env)
        try:
            name = kubectl("create", "-f", str(path), "-o", "jsonpath={.metadata.name}").stdout
            wait_phase(kubectl, name, "Succeeded", "Failed", "Error", timeout=600)
            wf = workflow(kubectl, name)
            logs = pod_logs(tmp_path / "kubeconfig", wf)
        finally:
            controllers.stop()
    status = wf["status"]
    if UNSUPPORTED in (status.get("message") or ""):
        pytest.skip(status["message"].splitlines()[-1])  # said so, not run without it
    status["nodes"] = object_nodes(status)
    phase = expected_phase(row["expected_phase"])
    if phase is not None:
        assert status["phase"] == phase, (status.get("message"), row["notes"])
    check = CHECKS.get(row["filename"])
    if check is not None:
        check(wf, logs)


def pod_logs(kubeconfig: Path, wf: dict[str, Any]) -> dict[str, str]:
    """Node display name -> its log, as the kubelet serves it (the controller lets a finished
    workflow go from its store)."""
    meta = wf["metadata"]
    names = {kube.pod_name(meta["name"], n): n["displayName"]
             for n in object_nodes(wf["status"]).values()}
    service = ClusterService(kube.api_client(str(kubeconfig)))
    logs: dict[str, str] = {}
    for pod, line in service.log_entries(meta["namespace"], meta["name"]):
        key = names.get(pod, pod)
        logs[key] = logs.get(key, "") + line + "\n"
    return logs
