"""artifactGC: output artifacts deleted when the workflow completes or is deleted, or never."""

from __future__ import annotations

from pathlib import Path

WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: gc}
spec:
  entrypoint: main
  artifactGC: {strategy: OnWorkflowDeletion}
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "echo 1 > /tmp/a; echo 2 > /tmp/b;
      echo 3 > /tmp/c"]}
    outputs:
      artifacts:
      - {name: done, path: /tmp/a, s3: {key: done.txt}, archive: {none: {}},
         artifactGC: {strategy: OnWorkflowCompletion}}
      - {name: deleted, path: /tmp/b, s3: {key: deleted.txt}, archive: {none: {}}}
      - {name: kept, path: /tmp/c, s3: {key: kept.txt}, archive: {none: {}},
         artifactGC: {strategy: Never}}
"""


def test_each_strategy_collects_at_its_moment(cli, argosy_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "wf.yaml").write_text(WF)
    done = cli("run", str(tmp_path / "wf.yaml"), "-o", "json")
    assert done.code == 0, done.stderr
    repo = argosy_home / "artifacts"
    assert sorted(p.name for p in repo.iterdir()) == ["deleted.txt", "kept.txt"]
    [node] = done.json()["status"]["nodes"].values()
    deleted = {a["name"]: a.get("deleted", False) for a in node["outputs"]["artifacts"]}
    assert deleted == {"done": True, "deleted": False, "kept": False}
    got = cli("get", "gc", "-o", "json").json()
    assert got["status"]["nodes"][node["id"]]["outputs"]["artifacts"][0]["deleted"] is True
    assert cli("delete", "gc").code == 0
    assert sorted(p.name for p in repo.iterdir()) == ["kept.txt"]
