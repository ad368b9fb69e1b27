"""argosy.kube finds the cluster the way kubectl does, and says plainly when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client

from argosy.kube import KubernetesUnavailable, api_client, current_namespace


def test_kubeconfig_from_the_environment_reaches_the_cluster(kubeconfig: Path, monkeypatch
                                                             ) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    with api_client() as api:
        names = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items]
    assert "default" in names


def test_no_cluster_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(KubernetesUnavailable, match="missing does not exist"):
        api_client()


def test_namespace_comes_from_the_context(kubeconfig: Path, tmp_path: Path) -> None:
    assert current_namespace(str(kubeconfig)) == "default"
    config = yaml.safe_load(kubeconfig.read_text())
    config["contexts"][0]["context"]["namespace"] = "team-a"
    edited = tmp_path / "edited"
    edited.write_text(yaml.safe_dump(config))
    assert current_namespace(str(edited)) == "team-a"
    assert current_namespace(str(tmp_path / "none")) == "default"
