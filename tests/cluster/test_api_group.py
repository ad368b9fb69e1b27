"""`argosy controller --api-group argosy.io`: beside Argo's own controller, argosy serves and
watches the same kinds in another group, and leaves argoproj.io's objects alone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import CRDS, Controllers
from tests.cluster.test_controller import STEPS
from tests.conftest import run_cli
from tests.kube.conftest import Kubectl, wait_for

pytestmark = pytest.mark.timeout(180)


def get(kubectl: Kubectl, resource: str) -> dict[str, Any]:
    return json.loads(kubectl("get", resource, "-o", "json").stdout)


def test_another_api_group_is_served_and_argos_is_left_alone(
        controllers: Controllers, kubectl: Kubectl, kubeconfig: Path, tmp_path: Path) -> None:
    # The CRDs rendered for the group, beside Argo's (the kubectl fixture applied those).
    rendered = CRDS.read_text().replace("argoproj.io", "argosy.io")
    kubectl("apply", "-f", "-", input=rendered)
    controllers.start("a", "--api-group", "argosy.io")
    ours = STEPS.replace("argoproj.io/v1alpha1", "argosy.io/v1alpha1")
    kubectl("apply", "-f", "-", input=textwrap.dedent(ours))
    kubectl("apply", "-f", "-", input=textwrap.dedent(STEPS.replace("name: steps",
                                                                    "name: argos")))
    wait_for(lambda: (get(kubectl, "workflows.argosy.io/steps").get("status") or {}).get(
        "phase") == "Succeeded", "argosy.io's workflow to succeed", 90)
    uid = get(kubectl, "workflows.argosy.io/steps")["metadata"]["uid"]
    pods = get(kubectl, "pods")["items"]
    assert pods and all(p["metadata"]["ownerReferences"][0]["apiVersion"] == "argosy.io/v1alpha1"
                        and p["metadata"]["ownerReferences"][0]["uid"] == uid for p in pods)
    assert "status" not in get(kubectl, "workflows.argoproj.io/argos")  # Argo's to run
    env = {"KUBECONFIG": str(kubeconfig), "ARGOSY_STORE": "kubernetes",
           "ARGOSY_API_GROUP": "argosy.io"}
    listed = run_cli("list", "-o", "name", home=tmp_path / "cli", env=env)
    assert listed.stdout.split() == ["steps"], listed.stderr
