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


VOLUMES = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: files}
spec:
  entrypoint: show
  volumes:
  - name: all
    configMap: {name: settings}
  - name: some
    configMap:
      name: settings
      defaultMode: 0600
      items:
      - {key: colour, path: deep/the-colour}
      - {key: size, path: size, mode: 0640}
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
  - name: none
    secret: {secretName: absent, optional: true}
  templates:
  - name: show
    container:
      image: busybox
      command: [sh, -c]
      args:
      - cd /etc; for f in all/colour all/size some/deep/the-colour some/size creds/password;
        do echo "$f $(stat -c %a $f) $(cat $f)" | sed s/s3cr3t-value/SECRET/; done;
        ls -A none | wc -l; echo x > all/new 2>/dev/null || echo read-only
      volumeMounts:
      - {name: all, mountPath: /etc/all}
      - {name: some, mountPath: /etc/some}
      - {name: creds, mountPath: /etc/creds}
      - {name: none, mountPath: /etc/none}
"""


def test_config_map_and_secret_volumes(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "objects.yaml").write_text(OBJECTS)
    (tmp_path / "wf.yaml").write_text(VOLUMES)
    cli("apply", "-f", str(tmp_path / "objects.yaml"))
    result = cli("run", str(tmp_path / "wf.yaml"), "-o", "json")
    assert result.code == 0, result.stdout + result.stderr
    [node] = result.json()["status"]["nodes"].values()
    assert node["outputs"]["result"].splitlines() == [
        "all/colour 644 blue", "all/size 644 large", "some/deep/the-colour 600 blue",
        "some/size 640 large", "creds/password 400 SECRET", "0", "read-only"]


def test_a_missing_config_map_volume_fails_the_step_naming_it(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(VOLUMES)
    result = cli("run", str(tmp_path / "wf.yaml"), "-o", "json")
    assert result.code == 1
    [node] = result.json()["status"]["nodes"].values()
    assert node["message"] == 'volume \'all\': configMap: ConfigMap "settings" not found in ' \
        'namespace "default"'
