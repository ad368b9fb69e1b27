"""CronWorkflows in cluster mode: the controller schedules the cluster's CronWorkflow objects
with the engine's scheduler; each schedule time makes one Workflow object, NAME-<unix time>."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from argosy import kube
from argosy.api.cluster import ClusterObjects, ClusterService
from argosy.cron import CRON_LABEL, CronScheduler
from tests.cluster.conftest import CRDS, Controllers, wait_phase
from tests.kube.conftest import Kubectl, wait_for

pytestmark = pytest.mark.timeout(240)

CRON = """\
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: tick
spec:
  schedule: "* * * * *"
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container:
        image: busybox
        command: [echo, tick]
"""


def cron(kubectl: Kubectl, name: str = "tick") -> dict[str, Any]:
    return json.loads(kubectl("get", "cronworkflow", name, "-o", "json").stdout)


def runs(kubectl: Kubectl, name: str = "tick") -> list[dict[str, Any]]:
    found = kubectl("get", "workflows", "-l", f"{CRON_LABEL}={name}", "-o", "json").stdout
    return json.loads(found)["items"]


def created_at(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


def scheduler(kubeconfig: Path, clock: list[datetime]) -> CronScheduler:
    api = kube.api_client(str(kubeconfig))
    return CronScheduler(ClusterObjects(api), lambda: clock[0], workflows=ClusterService(api))


def test_a_schedule_time_makes_one_workflow_object_and_the_status_says_so(
        kubectl: Kubectl, kubeconfig: Path) -> None:
    kubectl("apply", "-f", "-", input=CRON)
    minute = created_at(cron(kubectl)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock = [minute + timedelta(seconds=2)]
    crons = scheduler(kubeconfig, clock)
    assert crons.tick() == [f"tick-{int(minute.timestamp())}"]
    assert crons.tick() == []  # the same time again: already done
    (run,) = runs(kubectl)
    assert run["metadata"]["name"] == f"tick-{int(minute.timestamp())}"
    owner = run["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CronWorkflow", "tick", cron(kubectl)["metadata"]["uid"])
    status = cron(kubectl)["status"]
    assert status["lastScheduledTime"] == minute.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [a["name"] for a in status["active"]] == [run["metadata"]["name"]]
    assert status["phase"] == "Active"
    # The run ends (as the controller writes it): counted once, no longer active.
    body = {**run, "status": {"phase": "Succeeded", "finishedAt": "2026-01-01T00:00:00Z"}}
    kubectl("replace", "--subresource=status", "-f", "-", input=json.dumps(body))
    clock[0] += timedelta(seconds=5)
    assert crons.tick() == []
    status = cron(kubectl)["status"]
    assert status["succeeded"] == 1 and "active" not in status


def test_a_run_made_before_a_crash_is_recorded_not_made_again(kubectl: Kubectl,
                                                              kubeconfig: Path) -> None:
    """A controller killed between creating the run and writing the cron's status: the next
    finds the name taken (409) and only records the time."""
    kubectl("apply", "-f", "-", input=CRON)
    minute = created_at(cron(kubectl)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    name = f"tick-{int(minute.timestamp())}"
    made = scheduler(kubeconfig, [minute]).workflows.submit(
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
         "metadata": {"name": name, "labels": {CRON_LABEL: "tick"}},
         "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]}},
        start_engine=False)
    assert scheduler(kubeconfig, [minute + timedelta(seconds=3)]).tick() == []
    assert [r["metadata"]["uid"] for r in runs(kubectl)] == [made["metadata"]["uid"]]
    status = cron(kubectl)["status"]
    assert status["lastScheduledTime"] == minute.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [a["uid"] for a in status["active"]] == [made["metadata"]["uid"]]


def test_a_suspended_cron_in_the_cluster_starts_nothing(kubectl: Kubectl,
                                                        kubeconfig: Path) -> None:
    kubectl("apply", "-f", "-", input=CRON)
    kubectl("patch", "cronworkflow", "tick", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    minute = created_at(cron(kubectl)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert scheduler(kubeconfig, [minute + timedelta(seconds=1)]).tick() == []
    assert runs(kubectl) == []


def test_the_controller_runs_a_kubectl_applied_cron(controller: Controllers,
                                                    kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=textwrap.dedent(CRON))
    made = wait_for(lambda: runs(kubectl), "the cron's first run (at the next minute)", 120)
    name = made[0]["metadata"]["name"]
    stamp = int(name.rsplit("-", 1)[1])
    assert stamp % 60 == 0 and stamp > created_at(cron(kubectl)).timestamp() - 60
    wait_phase(kubectl, name, "Succeeded")
    wait_for(lambda: (cron(kubectl).get("status") or {}).get("succeeded") == 1,
             "the run to be counted in the cron's status", 30)
    status = cron(kubectl)["status"]
    assert status["lastScheduledTime"] == datetime.fromtimestamp(stamp, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    table = kubectl("get", "cronwf").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "SCHEDULE", "SUSPENDED", "LAST"]


def test_a_cron_of_another_api_group_makes_its_runs_in_that_group(
        kubectl: Kubectl, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_API_GROUP", "argosy.io")  # `argosy controller --api-group`
    kubectl("apply", "-f", "-", input=CRDS.read_text().replace("argoproj.io", "argosy.io"))
    kubectl("apply", "-f", "-", input=CRON.replace("argoproj.io/", "argosy.io/"))
    ours = json.loads(kubectl("get", "cronworkflows.argosy.io/tick", "-o", "json").stdout)
    minute = created_at(ours).replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert scheduler(kubeconfig, [minute + timedelta(seconds=2)]).tick() == [
        f"tick-{int(minute.timestamp())}"]
    (run,) = json.loads(kubectl("get", "workflows.argosy.io", "-o", "json").stdout)["items"]
    assert run["apiVersion"] == "argosy.io/v1alpha1"
    assert run["metadata"]["ownerReferences"][0]["apiVersion"] == "argosy.io/v1alpha1"
    status = json.loads(kubectl("get", "cronworkflows.argosy.io/tick", "-o", "json").stdout)[
        "status"]
    assert [(a["apiVersion"], a["uid"]) for a in status["active"]] == [
        ("argosy.io/v1alpha1", run["metadata"]["uid"])]
