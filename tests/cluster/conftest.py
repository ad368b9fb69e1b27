"""Fixtures: the API server double with argosy's CRDs, kubectl, and `argosy controller` replicas
running as child processes against it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.kube.conftest import Kubectl, wait_for
from tests.kube.double import Double

CRDS = REPO / "deploy" / "crds.yaml"
# Short lease times, so a handover takes seconds, not the default quarter minute.
FAST = ("--lease-duration", "2", "--renew-deadline", "1.5", "--retry-period", "0.25",
        "--status-interval", "0.2", "--metrics-port", "0")


@pytest.fixture
def double(tmp_path: Path) -> Iterator[Double]:
    with Double(root=tmp_path / "pods", bookmark_every=0.2) as server:
        yield server


@pytest.fixture
def kubeconfig(double: Double, tmp_path: Path) -> Path:
    return double.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed here: the cluster-mode tests drive it")
    kubectl = Kubectl(binary, kubeconfig, tmp_path)
    kubectl("apply", "-f", str(CRDS))
    return kubectl


class Controllers:
    """`argosy controller` replicas, each with a home of its own; stopped after the test."""

    def __init__(self, kubeconfig: Path, root: Path) -> None:
        self.kubeconfig, self.root = kubeconfig, root
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def home(self, identity: str) -> Path:
        return self.root / f"home-{identity}"

    def start(self, identity: str, *extra: str,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig),
                   ARGOSY_HOME=str(self.home(identity)), **(env or {}))
        log = open(self.root / f"controller-{identity}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "argosy.cli", "controller", *FAST,
                                 "--id", identity, *extra], env=env, stdout=log, stderr=log)
        log.close()
        self.procs[identity] = proc
        return proc

    def kill(self, identity: str) -> None:
        """kill -9: no lease released, no status flushed."""
        proc = self.procs[identity]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def log(self, identity: str) -> str:
        return (self.root / f"controller-{identity}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture
def controllers(kubeconfig: Path, kubectl: Kubectl, tmp_path: Path) -> Iterator[Controllers]:
    replicas = Controllers(kubeconfig, tmp_path)
    yield replicas
    replicas.stop()


@pytest.fixture
def controller(controllers: Controllers) -> Controllers:
    controllers.start("a")
    return controllers


def workflow(kubectl: Kubectl, name: str, namespace: str = "default") -> dict[str, Any]:
    return json.loads(kubectl("get", "workflow", name, "-n", namespace, "-o", "json").stdout)


def phase_of(kubectl: Kubectl, name: str) -> str:
    return kubectl("get", "workflow", name, "-o", "jsonpath={.status.phase}").stdout


def wait_phase(kubectl: Kubectl, name: str, *phases: str, timeout: float = 60) -> str:
    return wait_for(lambda: (p := phase_of(kubectl, name)) in phases and p,
                    f"workflow {name} to reach {' or '.join(phases)}", timeout)
