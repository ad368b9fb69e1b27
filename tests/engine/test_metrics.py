"""Custom metrics: evaluated when nodes and workflows finish, kept in the store, exposed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from argosy.api.service import submit
from argosy.engine.metrics import MetricError, evaluate, exposition, to_row
from argosy.engine.run import Engine
from argosy.expr.substitute import Scope
from argosy.store import Store

WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
    "metadata": {"generateName": "metrics-"},
    "spec": {
        "entrypoint": "main",
        "metrics": {"prometheus": [{
            "name": "wf_result", "help": "by status", "counter": {"value": "1"},
            "labels": [{"key": "status", "value": "{{workflow.status}}"}]}]},
        "templates": [{
            "name": "main",
            "outputs": {"parameters": [{"name": "n", "valueFrom": {"path": "/tmp/n"}}]},
            "metrics": {"prometheus": [
                {"name": "value_hist", "help": "n", "when": "{{status}} == Succeeded",
                 "histogram": {"buckets": [2, 5], "value": "{{outputs.parameters.n}}"}},
                {"name": "never", "help": "skipped", "when": "{{status}} == Failed",
                 "counter": {"value": "1"}},
            ]},
            "container": {"image": "busybox", "command": ["sh", "-c", "echo 3 > /tmp/n"]},
        }],
    },
}


def run(home: Path) -> Store:
    store = Store(home)
    record = submit(store, WORKFLOW)
    assert asyncio.run(Engine(store).run(record.uid)).phase == "Succeeded"
    return store


def test_metrics_are_kept_and_exposed(tmp_path: Path) -> None:
    store = run(tmp_path / "home")
    run(tmp_path / "home")
    text = exposition(store.metrics())
    assert '# TYPE wf_result counter' in text
    assert 'wf_result{status="Succeeded"} 2' in text  # counters add across workflows
    assert 'value_hist_bucket{le="2"} 0' in text
    assert 'value_hist_bucket{le="5"} 2' in text
    assert 'value_hist_sum 6' in text
    assert "never" not in text


def test_gauge_keeps_the_latest_value() -> None:
    rows = [to_row(s) for v in ("4", "7") for s in evaluate(
        [{"name": "g", "help": "h", "gauge": {"value": v}}], Scope())]
    assert "g 7" in exposition(rows)


@pytest.mark.parametrize(("spec", "fault"), [
    ({"name": "bad-name", "counter": {"value": "1"}}, "is invalid"),
    ({"name": "x", "counter": {"value": "abc"}}, "is not a number"),
    ({"name": "x"}, "one of counter, gauge or histogram"),
])
def test_metric_faults_name_the_problem(spec: dict, fault: str) -> None:
    with pytest.raises(MetricError, match=fault):
        evaluate([spec], Scope())
