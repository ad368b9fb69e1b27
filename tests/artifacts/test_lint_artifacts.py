"""Lint of artifacts: what argosy honours passes, what it cannot is named with why."""

from __future__ import annotations

import pytest

from argosy.api.service import lint_document
from argosy.spec.loader import load_documents

WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf, annotations: {argosy.io/executor: EXECUTOR}}
spec:
  entrypoint: main
  templates:
  - name: main
    inputs:
      artifacts:
      - {name: a, path: /tmp/a, ARTIFACT}
    container: {image: alpine, command: [cat, /tmp/a]}
"""


def faults(artifact: str, executor: str = "local") -> list[str]:
    [doc] = load_documents(WF.replace("ARTIFACT", artifact).replace("EXECUTOR", executor))
    return [f"{f.path}: {f.message}" for f in lint_document(doc)]


def test_sources_argosy_reads_pass() -> None:
    for source in ("raw: {data: x}", "http: {url: 'http://h/x', headers: [{name: a, value: b}]}",
                   "git: {repo: 'https://h/r.git', revision: v1, depth: 1}", "s3: {key: k/x}",
                   "optional: true", "http: {url: 'http://h', auth: {basicAuth: {}}}",
                   "artifactory: {url: 'http://h/x', usernameSecret: {name: s, key: u}}",
                   "git: {repo: r, fetch: ['refs/x/*:refs/x/*'], sshPrivateKeySecret: "
                   "{name: s, key: k}}",
                   "s3: {key: k, sessionTokenSecret: {name: s, key: t}}"):
        assert faults(source) == [], source


def test_other_drivers_and_s3_settings_argosy_cannot_honour_are_rejected_with_why() -> None:
    where = "spec.templates[0].inputs.artifacts[0]"
    assert faults("gcs: {bucket: b, key: k}") == [
        f"{where}.gcs: gcs is not supported here yet: argosy reads raw, http, artifactory, git "
        "and s3 artifacts and keeps the others in its artifact repository"]
    assert faults("s3: {endpoint: 'minio:9000', bucket: b, key: k, insecure: true, "
                  "accessKeySecret: {name: s, key: a}, secretKeySecret: {name: s, key: b}}") == []
    [role] = faults("s3: {bucket: b, key: k, roleARN: arn}")
    assert role.startswith(f"{where}.s3.roleARN: roleARN is not supported here: give the "
                           "role and addressing through the environment's")


@pytest.mark.parametrize("executor", ["kubernetes", "podman"])
def test_every_executor_accepts_artifacts(executor: str) -> None:
    assert faults("raw: {data: x}", executor) == []


def test_an_unknown_gc_strategy_is_a_fault() -> None:
    [doc] = load_documents(WF.replace("ARTIFACT", "raw: {data: x}").replace("EXECUTOR", "local")
                           .replace("  entrypoint: main", "  entrypoint: main\n  artifactGC: "
                                    "{strategy: OnWorkflowSuccess}"))
    assert [f"{f.path}: {f.message}" for f in lint_document(doc)] == [
        'spec.artifactGC.strategy: strategy must be "OnWorkflowCompletion", '
        '"OnWorkflowDeletion" or "Never", not string "OnWorkflowSuccess"']
