"""A pytest plugin for the runs as nobody: keeps only shard ``ARGOSY_TEST_SHARD=k/n`` of the
collected tests (one suite spread over several outer tests and xdist workers), and skips, with
the reason, the examples that cannot pass as a non-root user yet."""

from __future__ import annotations

import os

import pytest

# Examples whose steps write outside /tmp (argosay's `/output`): as root that lands on the
# host's /, as anyone else it fails until a node gets a writable layer of its own over /.
WRITES_OUTSIDE_TMP = ["expression-tag-template-workflow.yaml"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = os.environ.get("ARGOSY_TEST_SHARD")
    if shard:
        k, n = (int(x) for x in shard.split("/"))
        kept = [item for i, item in enumerate(items) if i % n == k]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="writes outside /tmp: needs a writable layer per node")
        for item in items:
            if any(f"[{name}]" in item.nodeid for name in WRITES_OUTSIDE_TMP):
                item.add_marker(skip)
