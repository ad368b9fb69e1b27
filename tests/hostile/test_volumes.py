"""Volumes on the local executor, run with the real CLI as root and as nobody, inside a
throwaway PID namespace (the steps write to the host through hostPath): emptyDir per node,
hostPath, volumeClaimTemplates shared by parallel steps and collected per volumeClaimGC,
persistentVolumeClaim by claim name, subPath and readOnly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.hostile.test_hostile import INSIDE, pytestmark  # noqa: F401  (root, unshare)
from tests.nonroot.test_as_nobody import as_nobody

VOLUMES = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: volumes-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: host}, {name: fail, value: "false"}]}
  volumeClaimGC: {strategy: GC_STRATEGY}
  volumeClaimTemplates:
  - metadata: {name: work}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  volumes:
  - {name: host, hostPath: {path: "{{workflow.parameters.host}}", type: Directory}}
  - {name: claim, persistentVolumeClaim: {claimName: results}}
  templates:
  - name: main
    steps:
    - - {name: write, template: write}
    - - {name: read, template: read}
  - name: write
    volumes: [{name: scratch, emptyDir: {}}]
    container:
      image: alpine
      command: [sh, -c]
      args: ["echo w > /scratch/mine && echo shared > /data/work/f && echo host > /h/from-step
              && echo sub > /sub/g && echo kept >> /pvc/log && cat /scratch/mine"]
      volumeMounts:
      - {name: scratch, mountPath: /scratch}
      - {name: work, mountPath: /data/work}
      - {name: work, mountPath: /sub, subPath: deep/dir}
      - {name: host, mountPath: /h}
      - {name: claim, mountPath: /pvc}
  - name: read
    volumes: [{name: scratch, emptyDir: {}}]
    container:
      image: alpine
      command: [sh, -c]
      args: ["ls -A /scratch; cat /data/work/f /data/work/deep/dir/g;
              echo no > /data/work/x 2>/dev/null || echo read-only;
              test {{workflow.parameters.fail}} = false"]
      volumeMounts:
      - {name: scratch, mountPath: /scratch}
      - {name: work, mountPath: /data/work, readOnly: true}
"""


def run(where: Path, user: str, wf: Path, *args: str) -> dict[str, Any]:
    """``argosy run`` of ``wf`` in a throwaway PID namespace as ``user``; its final Workflow."""
    command = [str(INSIDE), str(wf), *args]
    if user == "nobody":
        proc = as_nobody(where, sys.executable, *command)
    else:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ARGOSY_"))}
        proc = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, *command], cwd=REPO,
            env={**clean, "ARGOSY_HOME": str(where / "home")}, capture_output=True, text=True,
            timeout=540)
    assert proc.returncode == 0 and proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["stdout"], report["stderr"]
    return json.loads(report["stdout"])


def results(wf: dict[str, Any]) -> dict[str, str]:
    return {n["displayName"]: n.get("outputs", {}).get("result")
            for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}


def workspace(tmp_path: Path, user: str, scratch: Path, gc: str = "OnWorkflowSuccess") -> Path:
    where = scratch if user == "nobody" else tmp_path
    for path in (where / "host", where / "wf.yaml"):
        path.mkdir() if path.name == "host" else path.write_text(VOLUMES.replace("GC_STRATEGY", gc))
        os.chown(path, *((65534, 65534) if user == "nobody" else (0, 0)))
    return where


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_each_volume_kind(tmp_path: Path, scratch: Path, user: str) -> None:
    where = workspace(tmp_path, user, scratch)
    for n in (1, 2):
        wf = run(where, user, where / "wf.yaml", "-p", f"host={where / 'host'}")
        assert wf["status"]["phase"] == "Succeeded", wf["status"]
        # emptyDir: the node's own; the claim: shared, read-only where asked, subPath made.
        assert results(wf) == {"write": "w", "read": "shared\nsub\nread-only"}
        assert (where / "host" / "from-step").read_text() == "host\n"  # hostPath: the host's
        # persistentVolumeClaim: a directory per namespace and claim, lasting across workflows
        assert (where / "home" / "volumes" / "default" / "results" / "log").read_text() == \
            "kept\n" * n
        assert not any((where / "home" / "claims").iterdir())  # collected on success


@pytest.mark.parametrize("gc, kept", [("OnWorkflowSuccess", True),
                                      ("OnWorkflowCompletion", False)])
def test_volume_claim_gc(tmp_path: Path, gc: str, kept: bool) -> None:
    where = workspace(tmp_path, "root", tmp_path, gc)
    wf = run(where, "root", where / "wf.yaml", "-p", f"host={where / 'host'}", "-p", "fail=true")
    assert wf["status"]["phase"] == "Failed"
    claims = list((where / "home" / "claims").glob("*/work/f"))
    assert [p.read_text() for p in claims] == (["shared\n"] if kept else [])


def mounts_under(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4].startswith(path + "/") for line in f)


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_map_reduce_example(tmp_path: Path, scratch: Path, user: str) -> None:
    if user == "nobody" and mounts_under("/mnt"):
        # In a user namespace the kernel will not layer a directory holding other mounts
        # (it would uncover what they hide): /mnt is then the host's, where nobody cannot
        # make /mnt/out.
        pytest.skip("this host has mounts under /mnt")
    where = scratch if user == "nobody" else tmp_path
    wf = run(where, user, REPO / "examples" / "map-reduce.yaml")
    assert wf["status"]["phase"] == "Succeeded", wf["status"]
    assert results(wf)["reduce"] == "part-1\npart-2\n265"  # 55 + 210, both parts seen
