"""Argo's examples whose images are built here (busybox, alpine, argosay), each step a container
of the podman executor: the same expected outcomes as on the local executor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conformance.test_argo_examples import ARGO_EXAMPLES, rows, run_example
from tests.podman.conftest import ARGOSAY_TAG, TAGS

IMAGE = re.compile(r"""\bimage:\s*['"]?([^\s'",}]+)""")


def in_built_images(row: dict[str, str]) -> bool:
    images = set(IMAGE.findall((ARGO_EXAMPLES / row["filename"]).read_text()))
    return bool(images) and images <= {*TAGS, ARGOSAY_TAG}


@pytest.mark.slow
@pytest.mark.usefixtures("podman_images")
@pytest.mark.parametrize("row", [r for r in rows() if in_built_images(r)],
                         ids=lambda r: r["filename"])
def test_example_on_podman(row: dict[str, str], tmp_path: Path) -> None:
    run_example(row, tmp_path / "home", {}, "--executor", "podman")
