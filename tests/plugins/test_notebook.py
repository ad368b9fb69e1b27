"""The built-in ``notebook`` template type: real papermill runs, real kernels, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from argosy.plugins.notebook import executed_notebook, typed
from argosy.store import Store
from tests.conftest import REPO

pytest.importorskip("papermill")  # the `notebook` extra; the test extra includes it

EXAMPLE = REPO / "examples" / "notebook-pipeline.yaml"
STEPS = REPO / "examples" / "notebooks" / "steps"


def make_notebook(path: Path, parameters: str, *cells: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(parameters), *(new_code_cell(c) for c in cells)])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def workflow(name: str, templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": templates[0]["name"], "templates": templates, **spec}}


def run_wf(cli, tmp_path: Path, wf: dict[str, Any], *args: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / f"{wf['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(wf))
    result = cli("run", str(path), "-o", "json", *args)
    assert result.code in (0, 1) and result.stdout, result.stderr
    return result.code, result.json()


def by_name(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


def test_typed_follows_papermill_p() -> None:
    assert typed("3") == 3
    assert typed("-2.5") == -2.5
    assert typed("True") is True
    assert typed("False") is False
    assert typed("None") is None
    assert typed("true") == "true"
    assert typed("[1, 2]") == "[1, 2]"
    assert typed(7) == 7


def test_example_chains_two_notebooks(cli, argosy_home) -> None:
    result = cli("run", str(EXAMPLE), "-p", f"notebooks={STEPS}", "-o", "json")
    assert result.code == 0, result.stderr
    wf = result.json()
    nodes = by_name(wf)
    sample = [42, 20, 51, 84, 7, 10, 69, 13]  # random.Random(7), count 8
    prepare, analyse = nodes["prepare"], nodes["analyse"]
    assert prepare["type"] == "Pod"
    assert prepare["outputs"]["result"] == f"sample of 8: {sample}"
    assert prepare["outputs"]["parameters"] == [{"name": "sample", "value": json.dumps(sample)}]
    assert analyse["inputs"]["parameters"][0] == {"name": "sample", "value": json.dumps(sample)}
    assert analyse["outputs"]["result"] == "n=8 mean=37 max=84"
    assert analyse["outputs"]["parameters"] == [{"name": "mean", "value": "37"}]
    root = nodes[wf["metadata"]["name"]]
    assert root["outputs"]["parameters"] == [{"name": "mean", "value": "37"}]

    # The executed notebooks are kept with their nodes, outputs and injected parameters included.
    store = Store(argosy_home)
    executed = nbformat.reads(executed_notebook(store, wf["metadata"]["uid"], prepare["id"]),
                              as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected[0].source.splitlines()[1:] == ["count = 8", "seed = 7"]
    printed = [o["text"] for c in executed.cells for o in c.get("outputs", [])
               if o.get("name") == "stdout"]
    assert printed == [f"sample of 8: {sample}\n"]
    # ...and the log has what the cells printed.
    logs = cli("logs", wf["metadata"]["name"])
    assert f"sample of 8: {sample}" in logs.stdout
    assert "n=8 mean=37 max=84" in logs.stdout

    # Each is its node's output artifact `notebook`, which `argosy cp` fetches as `argo cp` does.
    assert prepare["outputs"]["artifacts"] == [
        {"name": "notebook", "path": "/tmp/.argosy/notebook.ipynb"}]
    name = wf["metadata"]["name"]
    copied = cli("cp", name, str(argosy_home / "out"), "--artifact-name", "notebook")
    assert copied.code == 0, copied.stderr
    files = sorted(p.relative_to(argosy_home / "out")
                   for p in (argosy_home / "out").rglob("*") if p.is_file())
    assert files == sorted(Path("default", name, n["id"], "outputs", "notebook", "notebook.ipynb")
                           for n in (prepare, analyse))
    assert copied.stderr.count('Created "notebook.ipynb"') == 2
    first = argosy_home / "out" / "default" / name / prepare["id"] / "outputs" / "notebook"
    assert (first / "notebook.ipynb").read_text() == executed_notebook(
        store, wf["metadata"]["uid"], prepare["id"])
    only = cli("cp", name, str(argosy_home / "one"), "--node-id", analyse["id"],
               "--path", "{templateName}/{artifactName}")
    assert only.code == 0, only.stderr
    assert [p.relative_to(argosy_home / "one") for p in (argosy_home / "one").rglob("*.ipynb")] \
        == [Path(analyse["templateName"], "notebook", "notebook.ipynb")]


def test_failing_cell_fails_the_node_with_its_error(cli, argosy_home) -> None:
    result = cli("run", str(EXAMPLE), "-p", f"notebooks={STEPS}", "-p", "count=20",
                 "-p", "fail-above=10", "-o", "json")
    assert result.code == 1, result.stderr
    wf = result.json()
    analyse = by_name(wf)["analyse"]
    assert analyse["phase"] == "Failed"
    assert analyse["message"] == "notebook cell [4] raised ValueError: mean 34.9 is above 10"
    assert analyse["outputs"]["exitCode"] == "1"
    assert "parameters" not in analyse["outputs"]
    # The executed notebook shows the error where it happened.
    executed = nbformat.reads(executed_notebook(Store(argosy_home), wf["metadata"]["uid"],
                                                analyse["id"]), as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert [(e["ename"], e["evalue"]) for e in errors] == [("ValueError",
                                                           "mean 34.9 is above 10")]


def test_parameters_types_and_private_tmp(cli, tmp_path) -> None:
    """Inputs are typed like papermill -p, notebook.parameters keep YAML types, and parallel
    nodes writing the same /tmp path each read back their own file."""
    nb = make_notebook(tmp_path / "echo.ipynb",
                       "count = 0\nratio = 0.0\nflag = False\nlabel = ''\nitems = []",
                       "print(type(count).__name__, type(ratio).__name__, type(flag).__name__, "
                       "repr(label), items)",
                       "open('/tmp/out.txt', 'w').write(f'{label}-{count * 2}')")
    wf = workflow("nb-params", [
        {"name": "main", "steps": [[{
            "name": "echo", "template": "echo", "withItems": ["a", "b"],
            "arguments": {"parameters": [{"name": "label", "value": "{{item}}"}]}}]]},
        {"name": "echo",
         "inputs": {"parameters": [{"name": "label"}, {"name": "count", "value": "21"},
                                   {"name": "ratio", "value": "0.5"},
                                   {"name": "flag", "value": "True"}]},
         "notebook": {"path": str(nb), "parameters": {"items": [1, "two"]}},
         "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out.txt"}}]}},
    ])
    code, out = run_wf(cli, tmp_path, wf)
    nodes = by_name(out)
    assert code == 0, nodes
    for item in ("a", "b"):
        node = next(n for name, n in nodes.items() if name.startswith("echo(") and item in name)
        assert node["outputs"]["result"] == f"int float bool '{item}' [1, 'two']"
        assert node["outputs"]["parameters"] == [{"name": "out", "value": f"{item}-42"}]


def test_missing_notebook_is_a_node_error(cli, tmp_path) -> None:
    wf = workflow("nb-missing", [{"name": "main", "notebook": {"path": "no/such.ipynb"}}])
    code, out = run_wf(cli, tmp_path, wf)
    node = by_name(out)["nb-missing"]
    assert (code, node["phase"]) == (1, "Error")
    assert node["message"] == (
        f"notebook no/such.ipynb: no such file (relative paths are to {os.getcwd()})")


def test_lint_checks_the_notebook_body(cli, tmp_path) -> None:
    wf = workflow("nb-lint", [{"name": "main", "notebook": {"path": "analysis.py"}},
                              {"name": "other", "notebook": {"kernel": "python3"}}])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(wf, sort_keys=False))
    result = cli("lint", "-o", "simple", str(path))
    assert result.code == 2
    faults = [line.split(": ", 1)[1] for line in result.stdout.splitlines()]
    assert 'spec.templates[0].notebook.path: "analysis.py" is not a notebook (.ipynb)' in faults
    assert "spec.templates[1].notebook.path: field required" in faults


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(predicate, timeout: float = 120.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _kernels(name: str) -> list[int]:
    """Host pids of the processes named ``name``: a step's own pid is its PID namespace's."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                pids.append(int(comm.parent.name))
        except OSError:
            pass
    return pids


def test_terminate_ends_the_kernel(argosy_home, tmp_path) -> None:
    name = f"nbk{os.getpid()}"[:15]
    nb = make_notebook(tmp_path / "sleepy.ipynb", "x = 1",
                       f"import time\nopen('/proc/self/comm', 'w').write({name!r})",
                       "time.sleep(300)")
    wf_file = tmp_path / "sleepy.yaml"
    wf_file.write_text(yaml.safe_dump(workflow("nb-sleepy", [
        {"name": "main", "notebook": {"path": str(nb)}}])))
    env = dict(os.environ, ARGOSY_HOME=str(argosy_home))
    argosy = [sys.executable, "-m", "argosy.cli"]
    run = subprocess.Popen([*argosy, "run", str(wf_file), "-o", "json"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: _kernels(name)), run.stderr
        [kernel] = _kernels(name)
        subprocess.run([*argosy, "terminate", "nb-sleepy"], env=env, check=True,
                       capture_output=True, timeout=60)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, stderr
    node = by_name(json.loads(stdout))["nb-sleepy"]
    assert node["phase"] in ("Failed", "Error")
    assert _wait_for(lambda: not _alive(kernel), timeout=60), f"kernel {kernel} outlived its node"
