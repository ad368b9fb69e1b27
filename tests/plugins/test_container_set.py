"""The containerSet template type, through the real ``argosy run`` and real processes."""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest

from argosy.errors import Fault
from argosy.plugins.container_set import ContainerSet, validate
from tests.conftest import ARGO_EXAMPLES, REPO, CliResult, run_cli

TOOLS = REPO / "tests" / "tools"
IMAGES = """\
argoproj/argosay:v2: {entrypoint: [argosay], commands: {/argosay: argosay}}
"""


@pytest.fixture
def home(argosy_home: Path) -> Path:
    argosy_home.mkdir(parents=True, exist_ok=True)
    (argosy_home / "images.yaml").write_text(IMAGES)
    return argosy_home


def run(home: Path, tmp_path: Path, manifest: str, *args: str) -> tuple[CliResult, dict]:
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(manifest))
    env = {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli("run", str(path), "-o", "json", *args, home=home, env=env)
    return result, (json.loads(result.stdout) if result.stdout.strip() else {})


def by_name(wf: dict) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in wf["status"]["nodes"].values()}


def logs(home: Path, wf: dict) -> dict[str, str]:
    """Node id -> its log, from the store the run wrote."""
    db = sqlite3.connect(home / "argosy.db")
    try:
        return dict(db.execute("SELECT node_id, content FROM logs WHERE uid = ?",
                               (wf["metadata"]["uid"],)))
    finally:
        db.close()


def children(nodes: dict[str, dict], name: str) -> list[str]:
    ids = {n["id"]: n["name"] for n in nodes.values()}
    return [ids[c] for c in nodes[name].get("children", [])]


def workflow(name: str, containers: str, extra: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(containers).strip(), " " * 12)
    more = textwrap.indent(textwrap.dedent(extra).strip(), " " * 6) if extra else ""
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}}}\n"
            f"spec:\n  entrypoint: main\n  templates:\n    - name: main\n"
            f"      containerSet:\n        containers:\n{body}\n{more}\n")


# ---- shape and order -------------------------------------------------------------------------


def test_graph_runs_in_dependency_order_with_argos_node_shape(home: Path, tmp_path: Path) -> None:
    # Each container appends its name to a file in the pod's shared /tmp; d prints it.
    result, wf = run(home, tmp_path, workflow("graph", """
        - {name: a, image: argoproj/argosay:v2, command: [sh, -c], args: [echo a >> /tmp/order]}
        - {name: b, image: argoproj/argosay:v2, command: [sh, -c], args: [echo b >> /tmp/order],
           dependencies: [a]}
        - {name: c, image: argoproj/argosay:v2, command: [sh, -c], args: [echo c >> /tmp/order],
           dependencies: [a]}
        - {name: main, image: argoproj/argosay:v2, args: [cat, /tmp/order],
           dependencies: [b, c]}
    """))
    assert result.code == 0, result.stderr
    nodes = by_name(wf)
    pod = nodes["graph"]
    assert (pod["type"], pod["phase"], pod["templateName"]) == ("Pod", "Succeeded", "main")
    order = pod["outputs"]["result"].split("\n")
    assert order[0] == "a" and sorted(order[1:3]) == ["b", "c"] and order[3:] == []
    assert children(nodes, "graph") == ["graph.a"]
    assert children(nodes, "graph.a") == ["graph.b", "graph.c"]
    assert children(nodes, "graph.b") == ["graph.main"]
    assert children(nodes, "graph.c") == ["graph.main"]
    for name in ("a", "b", "c", "main"):
        node = nodes[f"graph.{name}"]
        assert (node["type"], node["displayName"], node["phase"], node["boundaryID"],
                node["templateName"]) == ("Container", name, "Succeeded", pod["id"], "main")
    assert wf["status"]["progress"] == "5/5"


def test_sequence_of_argosay_containers(home: Path, tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, workflow("seq", """
        - {name: a, image: argoproj/argosay:v2, args: [echo, first, /tmp/msg]}
        - {name: b, image: argoproj/argosay:v2, args: [assert_contains, /tmp/msg, first],
           dependencies: [a]}
        - {name: main, image: argoproj/argosay:v2, args: [cat, /tmp/msg], dependencies: [b]}
    """, """
        outputs:
          parameters:
            - name: msg
              valueFrom: {path: /tmp/msg}
    """))
    assert result.code == 0, result.stderr
    nodes = by_name(wf)
    pod = nodes["seq"]
    assert pod["outputs"] == {"result": "first", "exitCode": "0",
                              "parameters": [{"name": "msg", "value": "first"}]}
    # Each container has its own log; the pod's holds them all, as `--all-containers` shows.
    found = logs(home, wf)
    assert [found[nodes[f"seq.{n}"]["id"]] for n in ("a", "b", "main")] == \
        ["", "first\n", "first\n"]
    assert found[pod["id"]] == "first\nfirst\n"


def test_containers_without_dependencies_run_together(home: Path, tmp_path: Path) -> None:
    # A rendezvous: each waits (bounded) for the other's file, so run one after the other
    # both would give up and fail.
    wait_for = ("touch /tmp/{me}; i=0; while [ ! -e /tmp/{other} ]; do i=$((i+1)); "
                "[ $i -gt 600 ] && exit 1; sleep 0.05; done")
    result, wf = run(home, tmp_path, workflow("par", f"""
        - name: a
          image: argoproj/argosay:v2
          command: [sh, -c]
          args: ["{wait_for.format(me='a', other='b')}"]
        - name: b
          image: argoproj/argosay:v2
          command: [sh, -c]
          args: ["{wait_for.format(me='b', other='a')}"]
    """))
    assert result.code == 0, result.stderr
    nodes = by_name(wf)
    assert children(nodes, "par") == ["par.a", "par.b"]
    assert [nodes[f"par.{n}"]["phase"] for n in "ab"] == ["Succeeded", "Succeeded"]
    # Without a container named main the pod has no result.
    assert "outputs" not in nodes["par"]


def test_main_result_feeds_a_dag_task(home: Path, tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, """
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {name: res}
        spec:
          entrypoint: main
          templates:
            - name: main
              dag:
                tasks:
                  - {name: a, template: group}
                  - name: b
                    template: verify
                    dependencies: [a]
                    arguments: {parameters: [{name: x, value: "{{tasks.a.outputs.result}}"}]}
            - name: group
              containerSet:
                containers:
                  - {name: side, image: argoproj/argosay:v2, args: [echo, not me]}
                  - {name: main, image: argoproj/argosay:v2, args: [echo, hi]}
            - name: verify
              inputs: {parameters: [{name: x}]}
              container:
                image: argoproj/argosay:v2
                command: [sh, -c]
                args: ['[ "{{inputs.parameters.x}}" = hi ] && echo verified']
    """)
    assert result.code == 0, result.stderr
    nodes = by_name(wf)
    assert nodes["res.a"]["outputs"]["result"] == "hi"
    assert nodes["res.b"]["outputs"]["result"] == "verified"
    assert [nodes[f"res.a.{n}"]["type"] for n in ("side", "main")] == ["Container"] * 2


# ---- failure -----------------------------------------------------------------------------------


def test_a_failing_container_fails_the_pod_and_stops_the_rest(home: Path,
                                                              tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, workflow("fail", """
        - {name: a, image: argoproj/argosay:v2, command: [sh, -c],
           args: ["i=0; until [ -e /tmp/c-running ]; do i=$((i+1)); [ $i -gt 600 ] && exit 9;
                   sleep 0.05; done; exit 3"]}
        - {name: b, image: argoproj/argosay:v2, args: [echo, b ran], dependencies: [a]}
        - {name: main, image: argoproj/argosay:v2, args: [echo, main ran], dependencies: [b]}
        - {name: c, image: argoproj/argosay:v2, command: [sh, -c],
           args: ["touch /tmp/c-running; exec sleep 600"]}
    """))
    assert result.code == 1
    nodes = by_name(wf)
    pod = nodes["fail"]
    assert (pod["phase"], pod["message"]) == ("Failed", "a: Error (exit code 3)")
    assert wf["status"]["phase"] == "Failed"
    phases = {n: (nodes[f"fail.{n}"]["phase"], nodes[f"fail.{n}"]["message"])
              for n in ("a", "b", "main", "c")}
    assert phases == {
        "a": ("Failed", "a: Error (exit code 3)"),
        "b": ("Failed", 'b: dependency "a" exited with non-zero code: 3'),
        "main": ("Failed", 'main: dependency "b" did not succeed'),
        "c": ("Failed", 'c: terminated: container "a" failed'),
    }
    # a exited 3, so it saw c's file in the pod's shared /tmp; b and main never started.
    printed = "".join(logs(home, wf).values())
    assert "b ran" not in printed and "main ran" not in printed


def test_main_exit_code_is_the_pods(home: Path, tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, workflow("code", """
        - {name: main, image: argoproj/argosay:v2, args: [exit, "7"]}
    """))
    assert result.code == 1
    pod = by_name(wf)["code"]
    assert (pod["phase"], pod["message"], pod["outputs"]["exitCode"]) == \
        ("Failed", "main: Error (exit code 7)", "7")


# ---- retryStrategy -----------------------------------------------------------------------------

FLAKY = """
    - name: main
      image: argoproj/argosay:v2
      command: [sh, -c]
      args: ["if [ -e /tmp/t ]; then echo second; else touch /tmp/t; echo first; exit 1; fi"]
"""


def test_retries_rerun_a_failed_command_in_place(home: Path, tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, workflow("retry", FLAKY).replace(
        "containerSet:\n", "containerSet:\n        retryStrategy: {retries: 2}\n"))
    assert result.code == 0, result.stderr
    nodes = by_name(wf)
    assert nodes["retry"]["outputs"]["result"] == "second"
    assert nodes["retry.main"]["phase"] == "Succeeded"
    # The attempts' logs follow each other in the container's log, as Argo appends them.
    assert logs(home, wf)[nodes["retry.main"]["id"]] == "first\nsecond\n"
    # No new nodes for the second attempt, as in Argo.
    assert sorted(nodes) == ["retry", "retry.main"]


def test_retries_count_attempts_as_argo_does(home: Path, tmp_path: Path) -> None:
    # Argo's emissary makes `retries` attempts in all: one attempt here, so no second chance.
    result, wf = run(home, tmp_path, workflow("once", FLAKY).replace(
        "containerSet:\n", "containerSet:\n        retryStrategy: {retries: \"1\"}\n"))
    assert result.code == 1
    assert by_name(wf)["once"]["message"] == "main: Error (exit code 1)"


# ---- what is refused ---------------------------------------------------------------------------


def test_outputs_need_a_container_named_main(home: Path, tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, workflow("nomain", """
        - {name: a, image: argoproj/argosay:v2}
    """, """
        outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
    """))
    assert result.code == 1
    pod = by_name(wf)["nomain"]
    assert (pod["phase"], pod["message"]) == (
        "Error", 'containerSet.containers must have a container named "main" for input or output')


def test_an_unmapped_image_errors_before_any_container_runs(home: Path, tmp_path: Path) -> None:
    result, wf = run(home, tmp_path, workflow("unmapped", """
        - {name: a, image: argoproj/argosay:v2}
        - {name: b, image: "acme/tool:2", dependencies: [a]}
    """))
    assert result.code == 1
    nodes = by_name(wf)
    assert sorted(nodes) == ["unmapped"]
    assert nodes["unmapped"]["phase"] == "Error"
    assert nodes["unmapped"]["message"].startswith(
        'container has no command and the entrypoint of image "acme/tool:2" is not known')
    assert str(home / "images.yaml") in nodes["unmapped"]["message"]


def test_volume_mounts_outside_tmp_are_refused(home: Path, tmp_path: Path) -> None:
    manifest = workflow("vol", """
        - {name: main, image: argoproj/argosay:v2, args: [echo, hi, /workspace/out]}
    """).replace("containers:\n", "volumeMounts: [{name: w, mountPath: /workspace}]\n"
                 "        containers:\n", 1)
    result, wf = run(home, tmp_path, manifest)
    assert result.code == 1
    assert by_name(wf)["vol"]["message"] == (
        "volumeMounts: mountPath '/workspace' is not supported by this executor: the "
        "containers of a set share the pod's /tmp, so mount the volume under /tmp")


def test_an_empty_dir_under_tmp_is_there_for_every_container(home: Path,
                                                            tmp_path: Path) -> None:
    # As a pod's volume: mounted before any container starts, shared by all of them.
    manifest = workflow("vol", """
        - {name: a, image: argoproj/argosay:v2, command: [sh, -c],
           args: [echo shared > /tmp/work/out/x]}
        - {name: main, image: argoproj/argosay:v2, args: [cat, /tmp/work/out/x],
           dependencies: [a]}
    """).replace("containers:\n", "volumeMounts: [{name: w, mountPath: /tmp/work/out}]\n"
                 "        containers:\n", 1).replace(
        "  templates:", "  volumes: [{name: w, emptyDir: {}}]\n  templates:", 1)
    result, wf = run(home, tmp_path, manifest)
    assert result.code == 0, result.stderr
    assert by_name(wf)["vol"]["outputs"]["result"] == "shared"


def test_read_only_and_sub_path_mounts_are_refused(home: Path, tmp_path: Path) -> None:
    # Its mounts are the node's shared /tmp: a read-only one or a subPath cannot be honoured.
    manifest = workflow("vol", """
        - {name: main, image: argoproj/argosay:v2, args: [echo, hi]}
    """).replace("containers:\n", "volumeMounts: [{name: w, mountPath: /tmp/w, readOnly: "
                 "true}]\n        containers:\n", 1)
    result, wf = run(home, tmp_path, manifest)
    assert result.code == 1
    assert by_name(wf)["vol"]["message"] == (
        "volumeMounts: readOnly is not supported in a containerSet by this executor: its "
        "mounts are the node's shared /tmp")


# ---- validation ----------------------------------------------------------------------------


def faults(body: dict) -> list[tuple[str, str]]:
    found: list[Fault] = validate(ContainerSet.model_validate(body), "t.containerSet")
    return [(f.path, f.message) for f in found]


def test_validate_matches_argos_container_set_rules() -> None:
    assert faults({"containers": []}) == [
        ("t.containerSet.containers", "containers must have at least one container")]
    assert faults({"containers": [
        {"name": "a"}, {"name": "a"}, {"name": "-x"}, {"name": ""}, {"name": "wait"},
        {"name": "b", "dependencies": ["zz"]},
    ]}) == [
        ("t.containerSet.containers[1].name", "'a' is not unique"),
        ("t.containerSet.containers[2].name", "'-x' is invalid: name must consist of "
         "alpha-numeric characters or '-', and must start with an alpha-numeric character"),
        ("t.containerSet.containers[3].name", "name is required"),
        ("t.containerSet.containers[4].name", "'wait' is a reserved Argo container name"),
        ("t.containerSet.containers[5].dependencies", "containers.b dependency 'zz' not defined"),
    ]
    assert faults({"containers": [{"name": "a", "dependencies": ["b"]},
                                  {"name": "b", "dependencies": ["a"]}]}) == [
        ("t.containerSet.containers", "dependency cycle detected: a->b->a")]
    assert faults({"containers": [{"name": "a"}],
                   "volumeMounts": [{"name": "x", "mountPath": "/w"},
                                    {"name": "y", "mountPath": "/w"}],
                   "retryStrategy": {"retries": "ten", "duration": "3 s"}}) == [
        ("t.containerSet.volumeMounts[1].mountPath", "'/w' already mounted in volumeMounts.x"),
        ("t.containerSet.retryStrategy.retries", "invalid retries 'ten'"),
        ("t.containerSet.retryStrategy.duration", 'time: invalid duration "3 s"'),
    ]


def test_lint_reports_container_set_faults(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(workflow("bad", """
        - {name: a, image: argoproj/argosay:v2, dependencies: [nope]}
    """))
    result = run_cli("lint", str(path), home=home)
    assert result.code != 0
    assert "spec.templates[0].containerSet.containers[0].dependencies" in \
        result.stdout + result.stderr
    assert "containers.a dependency 'nope' not defined" in result.stdout + result.stderr


# ---- Argo's own examples ---------------------------------------------------------------------


@pytest.mark.parametrize("example", ["graph", "sequence", "parallel", "outputs-result"])
def test_argo_container_set_examples(home: Path, example: str) -> None:
    source = ARGO_EXAMPLES / "container-set-template" / f"{example}-workflow.yaml"
    if not source.exists():
        pytest.skip("the conformance corpus is not beside the repository")
    env = {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli("run", str(source), "-o", "json", home=home, env=env)
    assert result.code == 0, result.stderr
    wf = json.loads(result.stdout)
    containers = [n for n in wf["status"]["nodes"].values() if n["type"] == "Container"]
    expected = {"graph": 4, "sequence": 3, "parallel": 2, "outputs-result": 1}[example]
    assert len(containers) == expected
    assert all(n["phase"] == "Succeeded" for n in containers)
