"""Argo's examples that read parameters from a ConfigMap, run after it is applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.test_argo_examples import all_logs, argosay, pod_logs
from tests.conftest import ARGO_EXAMPLES, run_cli

EXAMPLES = ["arguments-parameters-from-configmap.yaml", "global-parameters-from-configmap.yaml",
            "global-parameters-from-configmap-referenced-as-local-variable.yaml"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_reads_the_config_map(tmp_path: Path, example: str) -> None:
    config_map = ARGO_EXAMPLES / "configmaps" / "simple-parameters-configmap.yaml"
    if not config_map.exists():
        pytest.skip("the conformance corpus (../shared/conformance) is not beside this clone")
    home = tmp_path / "home"
    env = argosay(home)
    missing = run_cli("run", str(ARGO_EXAMPLES / example), home=home, env=env)
    assert missing.code == 2 and 'ConfigMap "simple-parameters" not found' in missing.stderr
    assert run_cli("apply", "-f", str(config_map), home=home, env=env).code == 0
    result = run_cli("run", str(ARGO_EXAMPLES / example), "-o", "json", home=home, env=env)
    assert result.code == 0, result.stderr
    wf = result.json()
    assert wf["status"]["phase"] == "Succeeded"
    assert "hello world" in all_logs(pod_logs(home, wf))
