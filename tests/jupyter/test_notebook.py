"""The example notebook, executed headless in a real kernel: it submits a workflow, waits,
reads its outputs, and uses the ``%%argosy`` magic."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from argosy.store import Store

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "getting-started.ipynb"


def test_getting_started_notebook(argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_ENGINE_IDLE_SECONDS", "3")
    monkeypatch.delenv("ARGOSY_SERVER", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is the kernel of the interpreter running the tests (ipykernel's own spec).
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []

    def text(cell: nbformat.NotebookNode) -> str:
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    outputs = next(c for c in code if "letters:" in c.source)
    assert text(outputs).splitlines() == [
        "letters: 23",
        "total: {'parameters': {'letters': '23'}, 'result': '3 words, 23 letters', "
        "'exitCode': 0}",
        'split: ["notebooks", "drive", "workflows"]']

    shown = next(c for c in code if c.source == "wf")
    html = shown.outputs[0]["data"]["text/html"]
    assert html.count('class="argosy-node"') == 6  # the DAG, split, three measures, total
    assert 'data-phase="Failed"' not in html
    assert "<td>3 words, 23 letters</td>" in html.replace('<pre style="margin:0">', "").replace(
        "</pre>", "")

    magic = next(c for c in code if c.source.startswith("%%argosy"))
    final = [o for o in magic.outputs if o.output_type == "execute_result"]
    assert len(final) == 1 and "argosy-workflow" in final[0]["data"]["text/html"]
    greeted = text(next(c for c in code if c.source.startswith("greeting = _")))
    assert re.fullmatch(r"greet-\w+: hello, notebook\n", greeted), greeted

    rejected = text(code[-1]).splitlines()
    assert rejected[0] == 'spec.entrypoint: unknown template "missing"'

    # The notebook used the CLI's store: both workflows are there, finished.
    store = Store(argosy_home)
    phases = sorted((rec.name.split("-")[0], rec.phase) for rec in store.list())
    store.close()
    assert phases == [("greet", "Succeeded"), ("word", "Succeeded")]
