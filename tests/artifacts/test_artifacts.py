"""Input and output artifacts on real in-process runs, as Argo moves them.

Each test runs a small workflow with the engine in this process (real processes, real files)
and checks the node's status and what the local repository holds.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import ssl
import subprocess
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_semantics import run_workflow

# Prints an input artifact (file or directory) as the step sees it.
SHOW = """
  - name: show
    inputs: {artifacts: [{name: a, path: /tmp/in/a}]}
    container: {image: alpine, command: [sh, -c, "ls -p /tmp/in; find /tmp/in/a -type f | sort |
      while read f; do echo \\"$f: $(cat $f)\\"; done"]}
"""


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def key_of(artifact: dict[str, Any]) -> str:
    return artifact["plugin"]["key"]


def test_a_file_passes_between_steps_as_a_tarball_with_its_mode(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: use
        template: use
        arguments: {artifacts: [{name: m, from: "{{steps.gen.outputs.artifacts.hello}}"}]}
  - name: gen
    container: {image: alpine, command: [sh, -c, "echo hello world > /tmp/hello.txt"]}
    outputs: {artifacts: [{name: hello, path: /tmp/hello.txt}]}
  - name: use
    inputs: {artifacts: [{name: m, path: /opt/msg/m.txt, mode: 0600}]}
    container: {image: alpine, command: [sh, -c, "cat /opt/msg/m.txt; stat -c %a /opt/msg/m.txt"]}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    gen, use = nodes(wf)["gen"], nodes(wf)["use"]
    [out] = gen["outputs"]["artifacts"]
    pod = gen["id"].replace("wf-", "wf-gen-")
    assert out == {"name": "hello", "path": "/tmp/hello.txt",
                   "plugin": {"name": "local", "key": f"wf/{pod}/hello.tgz"}}
    # Argo's tarball: one entry, the path's base name.
    with tarfile.open(tmp_path / "artifacts" / key_of(out)) as tf:
        assert tf.getnames() == ["hello.txt"]
    assert use["outputs"]["result"] == "hello world\n600"
    assert use["inputs"]["artifacts"] == [{"name": "m", "path": "/opt/msg/m.txt", "mode": 384,
                                          "plugin": out["plugin"]}]
    assert not Path("/opt/msg").exists()  # placed in the node's view only


def test_directories_unarchived_and_zipped(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - {name: plain, template: show, arguments: {artifacts: [
          {name: a, from: "{{steps.gen.outputs.artifacts.plain}}"}]}}
      - {name: zipped, template: show, arguments: {artifacts: [
          {name: a, from: "{{steps.gen.outputs.artifacts.zipped}}"}]}}
      - {name: tarred, template: show, arguments: {artifacts: [
          {name: a, from: "{{steps.gen.outputs.artifacts.tarred}}"}]}}
  - name: gen
    container: {image: alpine, command: [sh, -c,
      "mkdir -p /work/d/sub && echo 1 > /work/d/one && echo 2 > /work/d/sub/two"]}
    outputs:
      artifacts:
      - {name: plain, path: /work/d, archive: {none: {}}}
      - {name: zipped, path: /work/d, archive: {zip: {}}}
      - {name: tarred, path: /work/d, archive: {tar: {compressionLevel: 1}}}
""" + SHOW, tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    by_name = {a["name"]: a for a in nodes(wf)["gen"]["outputs"]["artifacts"]}
    repo = tmp_path / "artifacts"
    assert key_of(by_name["plain"]).endswith("/d") and (repo / key_of(by_name["plain"])).is_dir()
    assert by_name["plain"]["archive"] == {"none": {}}
    with zipfile.ZipFile(repo / key_of(by_name["zipped"])) as zf:
        assert sorted(zf.namelist()) == ["d/", "d/one", "d/sub/", "d/sub/two"]
    assert key_of(by_name["tarred"]).endswith("/tarred.tgz")
    for step in ("plain", "zipped", "tarred"):
        assert nodes(wf)[step]["outputs"]["result"] == (
            "a/\n/tmp/in/a/one: 1\n/tmp/in/a/sub/two: 2"), step


def test_a_missing_output_fails_the_node_unless_optional(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: opt, template: opt}], [{name: must, template: must}]]
  - name: opt
    container: {image: alpine, command: ["true"]}
    outputs: {artifacts: [{name: o, path: /tmp/nothing, optional: true}]}
  - name: must
    container: {image: alpine, command: ["true"]}
    outputs: {artifacts: [{name: o, path: /tmp/nothing}]}
""", tmp_path)
    opt, must = nodes(wf)["opt"], nodes(wf)["must"]
    assert opt["phase"] == "Succeeded" and "artifacts" not in opt["outputs"]
    assert must["phase"] == "Error"
    assert must["message"] == "failed to save outputs: open /tmp/nothing: no such file or directory"
    assert wf["status"]["phase"] == "Failed"


def test_an_unresolved_from_is_an_error_naming_it(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: use
        template: show
        arguments: {artifacts: [{name: a, from: "{{steps.gen.outputs.artifacts.o}}"}]}
  - name: gen
    container: {image: alpine, command: ["true"]}
    outputs: {artifacts: [{name: o, path: /tmp/absent, optional: true}]}
""" + SHOW, tmp_path)
    use = nodes(wf)["use"]
    assert use["phase"] == "Error"
    assert use["message"] == ('inputs.artifacts.a: Unable to resolve: '
                              '"{{steps.gen.outputs.artifacts.o}}"')


# ---- sources --------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/secret" and self.headers.get("Authorization") != "Bearer t":
            self.send_error(401, "Unauthorized")
            return
        if self.path not in ("/secret", "/file.txt", "/bundle.tgz"):
            self.send_error(404, "Not Found")
            return
        body = b"served\n"
        if self.path == "/bundle.tgz":
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
                info = tarfile.TarInfo("inner.txt")
                info.size = len(body)
                tf.addfile(info, io.BytesIO(body))
            body = buffer.getvalue()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler],
            context: ssl.SSLContext | None = None) -> Iterator[str]:
    """The base URL of a local server of ``handler`` (over TLS with ``context``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def test_raw_and_http_inputs_with_headers(tmp_path: Path, web: str) -> None:
    wf = run_workflow(f"""
  entrypoint: main
  templates:
  - name: main
    steps: [[{{name: ok, template: fetch}},
             {{name: denied, template: fetch, arguments: {{artifacts: [
               {{name: s, http: {{url: "{web}/secret"}}}}]}}}}]]
  - name: fetch
    inputs:
      artifacts:
      - {{name: r, path: /tmp/r.txt, raw: {{data: "raw {{{{workflow.name}}}}"}}}}
      - name: s
        path: /tmp/s.txt
        http: {{url: "{web}/secret", headers: [{{name: Authorization, value: Bearer t}}]}}
      - {{name: t, path: /tmp/unpacked.txt, http: {{url: "{web}/bundle.tgz"}}}}
    container: {{image: alpine, command: [sh, -c, "cat /tmp/r.txt /tmp/s.txt /tmp/unpacked.txt"]}}
""", tmp_path)
    ok, denied = nodes(wf)["ok"], nodes(wf)["denied"]
    assert ok["outputs"]["result"] == "raw wfserved\nserved", ok.get("message")
    assert denied["phase"] == "Error"
    assert denied["message"] == f'artifact "s": GET {web}/secret: 401 Unauthorized'


@pytest.fixture
def git_repo(tmp_path: Path) -> tuple[str, str]:
    """A repository with two commits on main and one on a branch; (URL, first commit)."""
    repo = tmp_path / "repo"
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    repo.mkdir()
    git("init", "-q", "-b", "main")
    (repo / "v").write_text("one\n")
    git("add", "v")
    git("commit", "-qm", "one")
    first = git("rev-parse", "HEAD")
    (repo / "v").write_text("two\n")
    git("commit", "-qam", "two")
    git("checkout", "-qb", "other")
    (repo / "v").write_text("branch\n")
    git("commit", "-qam", "branch")
    git("checkout", "-q", "main")
    return f"file://{repo}", first


def test_git_inputs_at_a_revision_a_branch_and_shallow(tmp_path: Path,
                                                      git_repo: tuple[str, str]) -> None:
    url, first = git_repo
    wf = run_workflow(f"""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {{name: head, template: clone, arguments: {{artifacts: [{{name: src, git: {{repo: "{url}",
          depth: 1, disableSubmodules: true, insecureIgnoreHostKey: true,
          insecureSkipTLS: true, branch: other}}}}]}}}}
      - {{name: no-branch, template: clone, arguments: {{artifacts: [{{name: src, git: {{
          repo: "{url}", singleBranch: true}}}}]}}}}
      - {{name: old, template: clone, arguments: {{artifacts: [{{name: src, git: {{repo: "{url}",
          revision: "{first}"}}}}]}}}}
      - {{name: branch, template: clone, arguments: {{artifacts: [{{name: src, git: {{repo: "{url}",
          revision: other, depth: 1}}}}]}}}}
      - {{name: single, template: clone, arguments: {{artifacts: [{{name: src, git: {{repo: "{url}",
          branch: other, singleBranch: true}}}}]}}}}
      - {{name: bad, template: clone, arguments: {{artifacts: [{{name: src, git: {{repo: "{url}",
          revision: no-such-rev}}}}]}}}}
  - name: clone
    inputs: {{artifacts: [{{name: src, path: /src}}]}}
    container: {{image: alpine, command: [sh, -c, "cat /src/v; git -C /src rev-list --count HEAD"]}}
""", tmp_path / "home")
    by = nodes(wf)
    assert by["head"]["outputs"]["result"] == "two\n1", by["head"].get("message")
    assert by["old"]["outputs"]["result"] == "one\n1"
    assert by["branch"]["outputs"]["result"] == "branch\n1"
    assert by["single"]["outputs"]["result"] == "branch\n3"
    assert by["bad"]["phase"] == "Error"
    assert by["bad"]["message"].startswith('artifact "src": git fetch revision no-such-rev: ')
    # As in Argo: branch is read only with singleBranch, which needs one.
    assert by["no-branch"]["message"] == (
        'artifact "src": git: single branch mode without a branch specified')


def test_key_only_artifacts_and_workflow_arguments(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  arguments:
    artifacts: [{name: given, raw: {data: "from the arguments"}}]
  templates:
  - name: main
    inputs: {artifacts: [{name: given}]}
    steps:
    - - {name: put, template: put}
    - - name: get
        template: get
        arguments: {artifacts: [{name: k, s3: {key: "shared/{{workflow.name}}.txt"}},
                                {name: g, from: "{{inputs.artifacts.given}}"}]}
  - name: put
    container: {image: alpine, command: [sh, -c, "echo by key > /tmp/k"]}
    outputs: {artifacts: [{name: k, path: /tmp/k, s3: {key: "shared/{{workflow.name}}.txt"},
                           archive: {none: {}}}]}
  - name: get
    inputs: {artifacts: [{name: k, path: /tmp/k}, {name: g, path: /tmp/g}]}
    container: {image: alpine, command: [sh, -c, "cat /tmp/k /tmp/g"]}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    assert (tmp_path / "artifacts/shared/wf.txt").read_text() == "by key\n"
    assert nodes(wf)["get"]["outputs"]["result"] == "by key\nfrom the arguments"


# ---- references, loops, composite outputs ------------------------------------------------------


def test_dag_from_expression_global_outputs_and_path_placeholders(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  onExit: exit
  templates:
  - name: main
    dag:
      tasks:
      - {name: heads, template: gen, arguments: {parameters: [{name: v, value: heads}]}}
      - {name: tails, template: gen, arguments: {parameters: [{name: v, value: tails}]}}
      - name: pick
        depends: heads && tails
        template: show
        arguments:
          artifacts:
          - {name: a, fromExpression: "tasks.heads.outputs.result == 'heads' ?
              tasks.tails.outputs.artifacts.out : tasks.heads.outputs.artifacts.out"}
    outputs:
      artifacts:
      - {name: chosen, fromExpression: "tasks.heads.outputs.artifacts.out", globalName: g}
  - name: gen
    inputs: {parameters: [{name: v}]}
    container: {image: alpine, command: [sh, -c, "echo {{inputs.parameters.v}} |
      tee {{outputs.artifacts.out.path}}"]}
    outputs: {artifacts: [{name: out, path: /tmp/out.txt}]}
  - name: exit
    steps: [[{name: last, template: show, arguments: {artifacts: [
      {name: a, from: "{{workflow.outputs.artifacts.g}}"}]}}]]
""" + SHOW.replace('"ls -p /tmp/in; ', '"echo {{inputs.artifacts.a.path}}; '), tmp_path)
    assert wf["status"]["phase"] == "Succeeded", wf["status"].get("message")
    by = nodes(wf)
    assert by["pick"]["outputs"]["result"] == "/tmp/in/a\n/tmp/in/a: tails"
    heads = by["heads"]["outputs"]["artifacts"][0]
    assert by["wf"]["outputs"]["artifacts"] == [
        {"name": "chosen", "globalName": "g", "plugin": heads["plugin"]}]
    assert wf["status"]["outputs"]["artifacts"] == [{"name": "g", "globalName": "g",
                                                     "plugin": heads["plugin"]}]
    assert by["last"]["outputs"]["result"] == "/tmp/in/a\n/tmp/in/a: heads"


def test_each_loop_iteration_saves_its_own_artifact(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen, withItems: [a, b, c],
         arguments: {parameters: [{name: v, value: "{{item}}"}]}}
    - - name: use
        template: show
        withItems: [0, 1]
        arguments: {artifacts: [{name: a, from: "{{steps.gen.outputs.artifacts.out}}"}]}
  - name: gen
    inputs: {parameters: [{name: v}]}
    container: {image: alpine, command: [sh, -c, "mkdir /tmp/o; echo {{inputs.parameters.v}} >
      /tmp/o/v"]}
    outputs: {artifacts: [{name: out, path: /tmp/o}]}
""" + SHOW, tmp_path)
    keys = {n["displayName"]: key_of(n["outputs"]["artifacts"][0])
            for n in wf["status"]["nodes"].values() if n["displayName"].startswith("gen(")}
    assert len(set(keys.values())) == 3
    for display, key in keys.items():
        with tarfile.open(tmp_path / "artifacts" / key) as tf:
            assert tf.extractfile("o/v").read().decode().strip() == display[-2]  # gen(0:a)
    # Argo does not aggregate a loop's artifacts: a reference to them is unresolved.
    use = [n for n in wf["status"]["nodes"].values() if n["displayName"].startswith("use(")]
    assert use and all(n["phase"] == "Error" and "Unable to resolve" in n["message"] for n in use)


def test_sub_path_of_an_input_artifact(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: use
        template: show
        arguments: {artifacts: [{name: a, from: "{{steps.gen.outputs.artifacts.d}}",
                                 subPath: sub}]}
      - name: out
        template: show
        arguments: {artifacts: [{name: a, from: "{{steps.gen.outputs.artifacts.d}}",
                                 subPath: ../..}]}
  - name: gen
    container: {image: alpine, command: [sh, -c, "mkdir -p /tmp/d/sub; echo x > /tmp/d/sub/f"]}
    outputs: {artifacts: [{name: d, path: /tmp/d}]}
""" + SHOW, tmp_path)
    by = nodes(wf)
    assert by["use"]["outputs"]["result"] == "a/\n/tmp/in/a/f: x"
    assert by["out"]["phase"] == "Error"
    assert by["out"]["message"] == "artifact \"a\": subPath '../..' leaves the artifact"


def test_a_template_type_that_cannot_place_artifacts_says_so(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    inputs: {artifacts: [{name: a, path: /tmp/a, raw: {data: x}}]}
    containerSet: {containers: [{name: main, image: alpine, command: [cat, /tmp/a]}]}
""", tmp_path)
    [node] = wf["status"]["nodes"].values()
    assert (node["phase"], node["message"]) == (
        "Error", 'artifact "a": artifacts at a path are not supported by the containerSet '
        "template type")
