"""Argo's examples whose images are built here (busybox, alpine, argosay), each step a container
of the podman executor: the same expected outcomes as on the local executor."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conformance.test_argo_examples import ARGO_EXAMPLES, rows, run_example
from tests.conformance.test_pod_examples import EXAMPLES, check_example, port_lock
from tests.podman.conftest import ARGOSAY_TAG, CURL_TAG, PYTHON_TAGS, STAND_INS, TAGS, have_image

__all__ = ["port_lock"]  # the fixture, used by name
BUILT = {*TAGS, ARGOSAY_TAG, *PYTHON_TAGS}

IMAGE = re.compile(r"""\bimage:\s*['"]?([^\s'",}]+)""")


def in_built_images(row: dict[str, str]) -> bool:
    images = set(IMAGE.findall((ARGO_EXAMPLES / row["filename"]).read_text()))
    return bool(images) and images <= BUILT


@pytest.mark.slow
@pytest.mark.usefixtures("podman_images")
@pytest.mark.parametrize("row", [r for r in rows() if in_built_images(r)],
                         ids=lambda r: r["filename"])
def test_example_on_podman(row: dict[str, str], tmp_path: Path) -> None:
    images = set(IMAGE.findall((ARGO_EXAMPLES / row["filename"]).read_text()))
    if missing := [i for i in sorted(images & set(PYTHON_TAGS)) if not have_image(i)]:
        pytest.skip(f"{missing[0]} was not built: the host has no Debian python3")
    run_example(row, tmp_path / "home", {}, "--executor", "podman")


@pytest.mark.slow
@pytest.mark.usefixtures("podman_images")
@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason=f"no Argo examples at {ARGO_EXAMPLES}")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_daemon_and_sidecar_example_on_podman(name: str, tmp_path: Path,
                                              port_lock: None) -> None:
    """Each daemon and sidecar in its image (Python stand-ins for nginx and influxdb, the
    host's curl): the same logs as on the local executor."""
    if missing := [i for i in (CURL_TAG, *STAND_INS) if not have_image(i)]:
        pytest.skip(f"{missing[0]} was not built: the host has no Debian python3 or no curl")
    home = tmp_path / "home"
    home.mkdir()
    check_example(name, home, {}, "--executor", "podman")
