"""The conformance corpus through cluster mode: each example created with `kubectl create -f`,
unchanged, run by `argosy controller` with every step a pod of the API server double, reaches
the phase it reaches locally (slow: `pytest -m slow tests/cluster/test_examples.py`).

Every example runs (CI too): each xdist worker starts one double and one controller and runs
its share of the corpus through them, deleting each workflow after it, so an example costs
what its workflow costs, not a controller's start. Measured on 2 cores with 4 workers: the
whole corpus took 300 s of CPU, 200 s more than 1 in 6 examples with a controller each did,
so about 100 s more wall time when the cores are free; its longest example
(synchronization-mutex-tmpl-level, 5 x 50 s of sleep by design) is the same long pole in the
corpus' local and kubernetes-executor runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
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


class Cluster:
    """The double, kubectl and one `argosy controller`, shared by the examples a worker runs
    (a controller runs many workflows; what each example asks of it is its own)."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.double = Double(root=root / "pods", bookmark_every=0.2)
        self.kubeconfig = root / "kubeconfig"
        self.controllers = Controllers(self.kubeconfig, root)
        self.env = argosay(self.controllers.home("a"))
        self.binary = binary

    def __enter__(self) -> Cluster:
        self.double.__enter__()
        self.kubectl = Kubectl(self.binary, self.double.write_kubeconfig(self.kubeconfig),
                               self.root)
        self.kubectl("apply", "-f", str(CRDS))
        self.controllers.start("a", env=self.env)
        return self

    def __exit__(self, *exc: object) -> None:
        self.controllers.stop()
        self.double.__exit__(*exc)

    def controller(self) -> None:
        """A controller that died (an example's fault) is started again for the next."""
        if self.controllers.procs["a"].poll() is not None:
            self.controllers.start("a", env=self.env)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed here: cluster mode is driven with it")
    with Cluster(tmp_path_factory.mktemp("cluster"), binary) as made, \
            pytest.MonkeyPatch.context() as patch:
        # The double's kubelet runs in this process: it maps images and finds argosay here.
        patch.setenv("ARGOSY_IMAGE_ENTRYPOINTS", str(made.controllers.home("a") / "images.yaml"))
        patch.setenv("PATH", made.env["PATH"])
        yield made


@pytest.mark.slow
@pytest.mark.timeout(700)
@pytest.mark.parametrize("row", rows(), ids=lambda r: r["filename"])
def test_example_through_the_controller(row: dict[str, str], request: pytest.FixtureRequest
                                        ) -> None:
    path = ARGO_EXAMPLES / row["filename"]
    if row["filename"] in MANUAL:
        pytest.skip(MANUAL[row["filename"]])
    if reason := later_reason(path.read_text()):
        pytest.skip(reason)
    cluster: Cluster = request.getfixturevalue("cluster")
    cluster.controller()
    kubectl = cluster.kubectl
    name = kubectl("create", "-f", str(path), "-o", "jsonpath={.metadata.name}").stdout
    try:
        wait_phase(kubectl, name, "Succeeded", "Failed", "Error", timeout=600)
        listed = kubectl("get", "workflows", name, "--no-headers").stdout.split()
        wf = workflow(kubectl, name)
        logs = pod_logs(cluster.kubeconfig, wf)
    finally:  # its pods go with it (ownerReferences): the next example starts clean
        kubectl("delete", "workflow", name, "--wait=false", check=False)
    status = wf["status"]
    # kubectl get workflows: NAME STATUS AGE PROGRESS as the object says
    assert [listed[:2], listed[3]] == [[name, status["phase"]], status["progress"]]
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
