"""A large output artifact goes to ``argosy cp`` as it is read, locally and through a server:
the command's memory stays far below the artifact's size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.artifacts.test_artifacts import nodes
from tests.conftest import run_cli
from tests.engine.test_semantics import run_workflow
from tests.server.rest_harness import start_server

SIZE = 256 << 20
WF = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: big}}
spec:
  entrypoint: gen
  templates:
  - name: gen
    container: {{image: alpine, command: [sh, -c, "head -c {SIZE} /dev/zero > /tmp/big"]}}
    outputs: {{artifacts: [{{name: big, path: /tmp/big, archive: {{none: {{}}}}}}]}}
"""
# Runs a command and prints the peak resident memory of it (KiB), then exits with its code.
MEASURE = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def copy_peak_kib(home: Path, out: Path, **env: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "argosy.cli", "cp", "big",
         str(out), "--path", "{artifactName}"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "ARGOSY_HOME": str(home), **env})
    assert done.returncode == 0, done.stderr
    assert (out / "big" / "big").stat().st_size == SIZE
    return int(done.stdout.split()[-1])


def test_cp_streams_a_large_artifact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ran = run_cli("run", "-", home=home, stdin=WF)
    assert ran.code == 0, ran.stderr
    local = copy_peak_kib(home, tmp_path / "local")
    server = start_server(home)
    try:
        remote = copy_peak_kib(home, tmp_path / "remote", ARGOSY_SERVER=server.url,
                               ARGOSY_TOKEN=server.token or "")
    finally:
        server.stop()
    # Reading the artifact whole would take more than its size; a stream takes buffers.
    assert local * 1024 < SIZE // 2, f"argosy cp peaked at {local} KiB"
    assert remote * 1024 < SIZE // 2, f"argosy cp through the server peaked at {remote} KiB"


def test_a_plain_file_a_tar_reader_would_take_is_passed_as_it_is(tmp_path: Path) -> None:
    """Only a gzipped tarball (or a zip) is unpacked, as Argo's executor tells them: a file of
    zeros, which reads as an empty tar, arrives as it was."""
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: use
        template: use
        arguments: {artifacts: [{name: z, from: "{{steps.gen.outputs.artifacts.z}}"}]}
  - name: gen
    container: {image: alpine, command: [sh, -c, "head -c 10240 /dev/zero > /tmp/z"]}
    outputs: {artifacts: [{name: z, path: /tmp/z, archive: {none: {}}}]}
  - name: use
    inputs: {artifacts: [{name: z, path: /tmp/z}]}
    container: {image: alpine, command: [sh, -c, "wc -c < /tmp/z"]}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert nodes(wf)["use"]["outputs"]["result"].strip() == "10240"
