"""Argo's examples of daemons and sidecars, run through the real ``argosy run``.

They are not in EXPECTED.tsv: their images (nginx, influxdb, curl) serve or reach a network.
Here the images are mapped to host programs, as a user would in ``images.yaml``: curl is the
host's, nginx and influxdb are stand-ins in tests/tools (never installed for users). Every node
shares the host's network, so each example binds its fixed port (80, 8086) on the loopback:
examples that bind the same port run one at a time, under a lock any test run on this machine
takes. Port 80 needs root.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.test_argo_examples import nodes, pod_logs
from tests.conftest import ARGO_EXAMPLES, REPO, run_cli

IMAGES = """\
nginx:1.13: {entrypoint: [nginx]}
influxdb:1.2: {entrypoint: [influxd]}
# The curl image's shell is busybox's, which knows $RANDOM and `>& file`; dash does not.
curlimages/curl:latest: {entrypoint: [curl], commands: {sh: bash, /bin/sh: bash}}
"""

# example -> (the port it binds, what its logs must show)
EXAMPLES: dict[str, tuple[int, list[str]]] = {
    "daemon-nginx.yaml": (80, ["Welcome to nginx!"]),
    "sidecar-nginx.yaml": (80, ["Welcome to nginx!"]),
    "steps-daemon-retry-strategy.yaml": (80, ["Welcome to nginx!"]),
    "dag-daemon-retry-strategy.yaml": (80, ["Welcome to nginx!"]),
    "daemon-step.yaml": (8086, ['"server01"', '"server02"', '"server03"']),
    "dag-daemon-task.yaml": (8086, ['"server01"', '"server02"', '"server03"']),
}


@pytest.fixture
def port_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    port = EXAMPLES[request.node.callspec.params["name"]][0]
    # Read-only, so that any user may take a lock another created.
    fd = os.open(f"/var/tmp/argosy-test-port-{port}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.mark.skipif(not ARGO_EXAMPLES.is_dir(), reason=f"no Argo examples at {ARGO_EXAMPLES}")
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on the host")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_daemon_and_sidecar_example(name: str, tmp_path: Path, port_lock: None) -> None:
    port = EXAMPLES[name][0]
    if port < 1024 and os.geteuid() != 0:
        pytest.skip(f"binds port {port}, which only root may (every node shares the host's "
                    "network)")
    home = tmp_path / "home"
    home.mkdir()
    (home / "images.yaml").write_text(IMAGES)
    env = {"PATH": f"{REPO / 'tests' / 'tools'}{os.pathsep}{os.environ['PATH']}"}
    check_example(name, home, env)


def check_example(name: str, home: Path, env: dict[str, str], *options: str) -> None:
    """Run the example and check what its logs show and that its daemons were killed."""
    shown = EXAMPLES[name][1]
    result = run_cli("run", str(ARGO_EXAMPLES / name), "-o", "json", *options, home=home,
                     timeout=300, env=env)
    assert result.code == 0, result.stderr[-3000:]
    wf: dict[str, Any] = result.json()
    assert wf["status"]["phase"] == "Succeeded"
    text = "\n".join(pod_logs(home, wf).values())
    for expected in shown:
        assert expected in text
    daemons = [n for n in nodes(wf) if n["type"] == "Pod" and n.get("podIP")]
    assert all(n["phase"] == "Succeeded" and "daemoned" not in n for n in daemons)
