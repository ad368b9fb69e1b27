"""ConfigMaps and Secrets in a step's environment (env.valueFrom, envFrom), kept out of what
argosy shows."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

OBJECTS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {colour: blue, size: large}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cr3t-value}
"""
WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: envs}
spec:
  entrypoint: show
  templates:
  - name: show
    container:
      image: busybox
      command: [sh, -c]
      args: ['echo "$COLOUR $CFG_size $PASSWORD ${GONE-unset}" | base64']
      envFrom:
      - {configMapRef: {name: settings}, prefix: CFG_}
      env:
      - name: COLOUR
        valueFrom: {configMapKeyRef: {name: settings, key: colour}}
      - name: PASSWORD
        valueFrom: {secretKeyRef: {name: creds, key: password}}
      - name: GONE
        valueFrom: {configMapKeyRef: {name: settings, key: nope, optional: true}}
"""


def test_env_from_config_maps_and_secrets(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "objects.yaml").write_text(OBJECTS)
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    applied = cli("apply", "-f", str(tmp_path / "objects.yaml"))
    assert applied.stdout.split() == ["configmap/settings", "created", "secret/creds", "created"]
    result = cli("run", str(tmp_path / "wf.yaml"), "-o", "json")
    assert result.code == 0, result.stderr
    assert "s3cr3t-value" not in result.stdout
    shown = base64.b64decode(cli("logs", "envs").stdout.split(":", 1)[1]).decode()
    assert shown == "blue large s3cr3t-value unset\n"
    assert "s3cr3t-value" not in cli("get", "envs", "-o", "yaml").stdout


def test_a_missing_secret_fails_the_step_naming_it(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    result = cli("run", str(tmp_path / "wf.yaml"), "-o", "json")
    assert result.code == 1
    [node] = result.json()["status"]["nodes"].values()
    assert node["message"] == 'envFrom[0]: ConfigMap "settings" not found'
