"""Output artifacts reach users: ``argosy cp``, ``Client.artifact`` and argo-server's routes."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from argosy.client import Client
from tests.conftest import CliResult
from tests.server.rest_harness import start_server, wait_phase

WF = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: outs}
spec:
  entrypoint: gen
  templates:
  - name: gen
    container: {image: alpine, command: [sh, -c, "echo report > /tmp/report.txt;
      mkdir /tmp/d; echo x > /tmp/d/x"]}
    outputs:
      artifacts:
      - {name: report, path: /tmp/report.txt}
      - {name: dir, path: /tmp/d}
"""


def test_cp_and_client_read_output_artifacts(cli, argosy_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wf = tmp_path / "wf.yaml"
    wf.write_text(WF)
    done: CliResult = cli("run", str(wf))
    assert done.code == 0, done.stderr
    copied = cli("cp", "outs", str(tmp_path / "out"), "--artifact-name", "report")
    assert copied.code == 0, copied.stderr
    [file] = (tmp_path / "out").rglob("report.txt")
    assert file.read_text() == "report\n"
    client = Client()
    assert client.artifact("outs", "outs", "report") == b"report\n"
    with tarfile.open(fileobj=io.BytesIO(client.artifact("outs", "outs", "dir"))) as tf:
        assert tf.extractfile("d/x").read() == b"x\n"


def test_argo_server_routes_serve_output_artifacts(tmp_path: Path) -> None:
    server = start_server(tmp_path / "home")
    try:
        with server.client() as http:
            import yaml

            resp = http.post("/api/v1/workflows/default", json={"workflow": yaml.safe_load(WF)})
            assert resp.status_code == 200, resp.text
            wf = wait_phase(http, "default", "outs", timeout=60)
            assert wf["status"]["phase"] == "Succeeded", wf["status"]
            for path in ("/artifacts/default/outs/outs/report",
                         "/artifact-files/default/workflow/outs/outs/outputs/report"):
                resp = http.get(path)
                assert resp.status_code == 200, resp.text
                assert resp.content == b"report\n"
                assert 'filename="report.txt"' in resp.headers["content-disposition"]
            # A directory comes as a tarball, streamed from a scratch copy that then goes.
            with http.stream("GET", "/artifacts/default/outs/outs/dir") as resp:
                assert resp.status_code == 200
                body = b"".join(resp.iter_bytes())
            assert 'filename="dir.tgz"' in resp.headers["content-disposition"]
            with tarfile.open(fileobj=io.BytesIO(body)) as tf:
                assert tf.extractfile("d/x").read() == b"x\n"
            scratch = tmp_path / "home" / "artifacts-work"
            for _ in range(100):  # removed once the response was sent
                if not list(scratch.iterdir()):
                    break
                time.sleep(0.05)
            assert list(scratch.iterdir()) == []
            missing = http.get("/artifacts/default/outs/outs/nope")
            assert missing.status_code == 404
            assert 'artifact "nope"' in missing.json()["message"]
    finally:
        server.stop()
