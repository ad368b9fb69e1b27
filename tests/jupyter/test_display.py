"""Rich display: the layered SVG graph (wrappers hidden, phases coloured, text escaped), the
outputs table, and the ``%%argosy`` magic in a real IPython shell."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from jupyter_harness import echo

from argosy.client import Client, Workflow
from argosy.errors import InvalidWorkflow
from argosy.jupyter_ext.display import layout, outputs_table, visible_edges, workflow_svg

SVG = "{http://www.w3.org/2000/svg}"


def node(nid: str, kind: str, phase: str, children: list[str] = (),  # type: ignore[assignment]
         display: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": nid, "name": f"wf.{display or nid}", "displayName": display or nid,
            "type": kind, "phase": phase, "children": list(children), **extra}


def steps_workflow() -> dict[str, Any]:
    """wf (Steps) -> [a, b] -> [c], through StepGroups, as Argo records two step groups."""
    nodes = [
        node("wf", "Steps", "Failed", ["g0"]),
        node("g0", "StepGroup", "Succeeded", ["a", "b"], display="[0]"),
        node("a", "Pod", "Succeeded", ["g1"], startedAt="2024-01-01T00:00:01Z",
             outputs={"result": "<b>bold</b>", "exitCode": "0",
                      "parameters": [{"name": "p&q", "value": "1<2"}]}),
        node("b", "Pod", "Succeeded", ["g1"], startedAt="2024-01-01T00:00:00Z"),
        node("g1", "StepGroup", "Failed", ["c"], display="[1]"),
        node("c", "Pod", "Failed", [], display="<script>alert(1)</script>",
             message="exit code 3", outputs={"exitCode": "3"}),
    ]
    return {"metadata": {"name": "wf", "namespace": "default"},
            "status": {"phase": "Failed", "nodes": {n["id"]: n for n in nodes}}}


def test_edges_pass_through_wrappers() -> None:
    nodes = steps_workflow()["status"]["nodes"]
    assert visible_edges(nodes) == {"wf": ["a", "b"], "a": ["c"], "b": ["c"], "c": []}
    lay = layout(nodes)
    # b started first, so it stands left of a.
    assert lay.layers == [["wf"], ["b", "a"], ["c"]]
    assert sorted(lay.edges) == [("a", "c"), ("b", "c"), ("wf", "a"), ("wf", "b")]


def test_svg_is_escaped_and_coloured() -> None:
    svg = workflow_svg(steps_workflow())
    root = ET.fromstring(svg)  # well-formed, whatever the names held
    boxes = root.findall(f"{SVG}g")
    assert [b.get("data-node") for b in boxes] == ["wf.wf", "wf.b", "wf.a",
                                                    "wf.<script>alert(1)</script>"]
    assert [b.find(f"{SVG}rect").get("fill") for b in boxes] == [  # type: ignore[union-attr]
        "#e96d76", "#18be94", "#18be94", "#e96d76"]
    assert "<script>" not in svg
    assert boxes[3].find(f"{SVG}title").text == (  # type: ignore[union-attr]
        "wf.<script>alert(1)</script> (Pod): Failed — exit code 3")
    assert boxes[3].find(f"{SVG}text").text == "<script>alert(1)</s…"  # type: ignore[union-attr]
    assert len(root.findall(f"{SVG}path")) == 4


def test_outputs_table() -> None:
    table = outputs_table(steps_workflow())
    assert "<b>bold</b>" not in table and "&lt;b&gt;bold&lt;/b&gt;" in table
    assert "<code>p&amp;q</code>=1&lt;2" in table
    rows = ET.fromstring(table).findall("./tbody/tr")
    assert ["".join(r[0].itertext()) for r in rows] == ["a", "<script>alert(1)</script>"]
    assert ["".join(r[4].itertext()) for r in rows] == ["0", "3"]


def test_large_graph_is_cut_and_cycles_end() -> None:
    nodes = {f"n{i}": node(f"n{i}", "Pod", "Succeeded", [f"n{i + 1}"]) for i in range(500)}
    nodes["n499"]["children"] = ["n0"]  # a cycle: not in Argo's status, but input is data
    lay = layout(nodes, limit=50)
    assert (sum(len(layer) for layer in lay.layers), lay.cut) == (50, 450)
    assert "100 more nodes not drawn" in workflow_svg({"status": {"nodes": nodes}})


def test_workflow_object() -> None:
    wf = Workflow(steps_workflow())
    assert (wf.name, wf.phase, wf.finished) == ("wf", "Failed", True)
    assert wf.outputs == {"a": {"parameters": {"p&q": "1<2"}, "result": "<b>bold</b>",
                                "exitCode": 0},
                          "<script>alert(1)</script>": {"parameters": {}, "exitCode": 3}}
    assert wf.node("wf.a").display_name == "a"
    with pytest.raises(KeyError, match="has no node 'zzz'"):
        wf.node("zzz")
    assert wf._repr_html_().startswith('<div class="argosy-workflow">')
    assert wf.graph._repr_svg_() == workflow_svg(wf.raw)


# ---- the magic -----------------------------------------------------------------------------------


@pytest.fixture
def shell(argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("ARGOSY_ENGINE_IDLE_SECONDS", "3")
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "argosy.jupyter_ext")
    ip.user_ns["mine"] = Client(home=argosy_home, poll=0.1)
    yield ip
    InteractiveShell.clear_instance()


def test_magic_submits_and_waits(shell: Any) -> None:
    cell = yaml.safe_dump(echo("magic", "{{workflow.parameters.text}}"))
    cell = cell.replace("spec:\n", "spec:\n  arguments:\n    parameters: [{name: text}]\n", 1)
    wf = shell.run_cell_magic("argosy", '-p "text=said by magic" --wait --timeout 60 '
                                        "--client mine --name magic-1", cell)
    assert (wf.name, wf.phase) == ("magic-1", "Succeeded")
    assert wf.outputs["magic-1"]["parameters"] == {"said": "said by magic"}


def test_magic_reports_faults(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bad = echo("bad")
    bad["spec"]["entrypoint"] = "elsewhere"
    result = shell.run_cell(f"%%argosy --client mine\n{yaml.safe_dump(bad)}")
    assert isinstance(result.error_in_exec, InvalidWorkflow)
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert 'spec.entrypoint: unknown template "elsewhere"' in text
    assert "Traceback" not in text  # the faults only: a manifest is input, not a bug
    result = shell.run_cell("%%argosy --client nobody\nkind: Workflow\n")
    assert "no argosy.Client named 'nobody'" in str(result.error_in_exec)
