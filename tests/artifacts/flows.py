"""One artifact workflow every executor's suite runs: a file and a directory out of one step
into the next (``from``), beside a raw input with a mode, and what it must give."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

FLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: NAME}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: use
        template: use
        arguments:
          artifacts:
          - {name: file, from: "{{steps.gen.outputs.artifacts.file}}"}
          - {name: dir, from: "{{steps.gen.outputs.artifacts.dir}}"}
  - name: gen
    container:
      image: busybox
      command: [sh, -c, "mkdir -p /tmp/d/sub && echo one > /tmp/d/sub/x && echo hi > /tmp/f"]
    outputs:
      artifacts:
      - {name: file, path: /tmp/f}
      - {name: dir, path: /tmp/d, archive: {none: {}}}
      - {name: none, path: /tmp/none, optional: true}
  - name: use
    inputs:
      artifacts:
      - {name: file, path: /tmp/in/f}
      - {name: dir, path: /tmp/in/d}
      - {name: raw, path: /tmp/in/raw, mode: 0755, raw: {data: "#!/bin/sh\\necho raw ran\\n"}}
    container:
      image: busybox
      command: [sh, -c, "cat /tmp/in/f /tmp/in/d/sub/x && /tmp/in/raw && echo new > /tmp/in/f"]
"""


def flow(name: str) -> str:
    return FLOW.replace("NAME", name)


def check_flow(wf: dict[str, Any], location: Callable[[str], dict[str, Any]] | None = None
               ) -> None:
    """The second step saw both artifacts and ran the raw one; the optional one is left out;
    keys are Argo's (the workflow, then the pod's name); ``location(key)``: where the
    repository records one (the default local repository's by default)."""
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    nodes = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    gen, use = nodes["gen"], nodes["use"]
    assert use["outputs"]["result"] == "hi\none\nraw ran"
    saved = {a["name"]: a for a in gen["outputs"]["artifacts"]}
    assert list(saved) == ["file", "dir"]
    name = wf["metadata"]["name"]
    pod = f"{name}-gen-{gen['id'].rsplit('-', 1)[-1]}"
    where = location or (lambda key: {"plugin": {"name": "local", "key": key}})
    assert saved["file"] == {"name": "file", "path": "/tmp/f", **where(f"{name}/{pod}/file.tgz")}
    # Not archived: named by its path's base name, as in Argo.
    assert saved["dir"] == {"name": "dir", "path": "/tmp/d", "archive": {"none": {}},
                            **where(f"{name}/{pod}/d")}


def check_copied(home: Path, name: str) -> None:
    """``argosy cp`` gives the file artifact back as the step wrote it."""
    got = run_cli("cp", name, str(home / "out"), "--artifact-name", "file",
                  "--path", "{artifactName}", home=home)
    assert got.code == 0, got.stderr
    assert (home / "out" / "file" / "f").read_text() == "hi\n"
