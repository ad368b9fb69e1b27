"""`resubmit --memoized`: succeeded steps are carried over, only the rest runs again."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: memo-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: fail, value: "yes"}]}
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: count}
      - {name: b, template: maybe, depends: a}
  - name: count
    container: {image: busybox, command: [sh, -c, "echo a >> COUNTS; echo ran-a"]}
  - name: maybe
    container:
      image: busybox
      command: [sh, -c, "echo b >> COUNTS; test {{workflow.parameters.fail}} = no"]
"""


def test_resubmit_memoized_reruns_only_what_did_not_succeed(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Outside /tmp, on the host: each step sees a private /tmp, and no layer over the rest.
    monkeypatch.setenv("ARGOSY_SANDBOX", "tmp")
    counts = Path("/var/tmp") / f"argosy-memo-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW.replace("COUNTS", str(counts)))
    try:
        first = cli("run", str(path), "-o", "name")
        assert first.code == 1
        second = cli("resubmit", first.stdout.strip(), "--memoized", "-p", "fail=no",
                     "--wait", "-o", "name")
        assert second.code == 0, second.stderr
        name = second.stdout.strip().splitlines()[0]
        assert counts.read_text().split() == ["a", "b", "b"]
        wf = cli("get", name, "-o", "json").json()
        nodes = wf["status"]["nodes"]
        a = next(n for n in nodes.values() if n["displayName"] == "a")
        assert a["outputs"]["result"] == "ran-a"
        assert a["id"] in nodes[name]["children"]  # the carried-over node hangs in the tree
        bad = cli("resubmit", name, "--memoized")
        assert bad.code == 0  # a finished workflow can be resubmitted again
    finally:
        counts.unlink(missing_ok=True)
