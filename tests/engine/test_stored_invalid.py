"""A row that today's submit refuses, stored by an older argosy (number labels), ends in Error
once; the engine used to fail on it twice a second, forever."""

from __future__ import annotations

import asyncio
from pathlib import Path

from argosy.engine.run import Engine
from argosy.store import Store


def test_engine_errors_a_stored_workflow_its_model_refuses(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_workflow({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"name": "old-row", "labels": {"build": 7}},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "container": {"image": "busybox", "command": ["true"]}}]}})
    engine = Engine(Store(tmp_path))
    # The timeout only guards against the old endless retry.
    asyncio.run(asyncio.wait_for(engine.serve(exit_when_idle=0.5), 60))
    record = store.find("default", "old-row")
    assert record.phase == "Error"
    assert record.message == ("invalid workflow: metadata.labels.build: "
                              "Input should be a valid string")
    assert record.finished_at
    store.close()
    engine.store.close()
