"""A pytest plugin for the runs as nobody: keeps only shard ``ARGOSY_TEST_SHARD=k/n`` of the
collected tests (one suite spread over several outer tests and xdist workers)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = os.environ.get("ARGOSY_TEST_SHARD")
    if shard:
        k, n = (int(x) for x in shard.split("/"))
        kept = [item for i, item in enumerate(items) if i % n == k]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
