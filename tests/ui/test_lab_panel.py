"""The JupyterLab panel in a real browser against a real ``jupyter lab`` and argosy engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FINISH_MS = 120_000


def open_panel(page: Page) -> None:
    tab = page.locator('.jp-SideBar [data-id="argosy-workflows"]')
    if page.locator("#argosy-workflows").is_hidden():
        tab.click()
    expect(page.locator("#argosy-workflows")).to_be_visible()


def open_file_browser(page: Page) -> None:
    if page.locator("#filebrowser").is_hidden():
        page.locator('.jp-SideBar [data-id="filebrowser"]').click()
    expect(page.locator("#filebrowser")).to_be_visible()


def submit_from_browser(page: Page, filename: str) -> None:
    open_file_browser(page)
    item = page.locator(".jp-DirListing-item", has_text=filename)
    item.click()
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Submit workflow").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    return None


def detail_phase(page: Page, name_prefix: str):  # type: ignore[no-untyped-def]
    view = page.locator(".argosy-detail:visible")
    expect(view.locator(".argosy-detail-title")).to_contain_text(name_prefix)
    return view


def check_panel_empty(page: Page) -> None:
    open_panel(page)
    expect(page.locator("#argosy-workflows .argosy-status")).to_have_text("0 of 0 workflows")


def check_submit_reaches_succeeded(page: Page, shots: Path) -> None:
    submit_from_browser(page, "hello-world.yaml")
    dialog = page.locator(".jp-Dialog")
    # The form offers spec.arguments.parameters, prefilled with the manifest's value.
    greeting = dialog.locator('input[name="param-greeting"]')
    expect(greeting).to_have_value("hello")
    greeting.fill("howdy")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    view = detail_phase(page, "hello-world-")
    expect(view.locator(".argosy-detail-info")).to_have_attribute(
        "data-phase", "Succeeded", timeout=FINISH_MS)
    expect(view.locator(".argosy-detail-info")).to_contain_text("5/5")
    # The sidebar row followed the event stream to the same phase and progress.
    open_panel(page)
    row = page.locator("#argosy-workflows .argosy-row").first
    expect(row).to_have_attribute("data-phase", "Succeeded")
    expect(row.locator(".argosy-row-progress")).to_have_text("5/5")
    page.locator("#argosy-workflows").screenshot(path=str(shots / "panel.png"))


def check_node_logs_and_outputs(page: Page, shots: Path) -> None:
    view = page.locator(".argosy-detail:visible")
    node = view.locator('.argosy-node[data-display-name="greet"]')
    node.click()
    info = view.locator(".argosy-node-info")
    expect(info.locator("h3")).to_have_text("greet")
    expect(info.locator(".argosy-fact-phase")).to_have_text("Succeeded")
    expect(info.locator(".argosy-logs")).to_have_text("howdy world\n")
    expect(info.locator(".argosy-params").nth(2)).to_contain_text("howdy world")
    # A loop's group collapses to one node and opens again.
    group = view.locator('.argosy-node[data-display-name="[1]"]')
    expect(view.locator('.argosy-node[data-display-name="count(0:1)"]')).to_have_count(1)
    group.click()
    expect(view.locator('.argosy-node[data-display-name="count(0:1)"]')).to_have_count(0)
    group.click()
    expect(view.locator('.argosy-node[data-display-name="count(0:1)"]')).to_have_count(1)
    view.screenshot(path=str(shots / "graph.png"))
    view.locator('.argosy-tab[data-tab="yaml"]').click()
    expect(view.locator(".argosy-yaml")).to_contain_text("phase: Succeeded")
    view.locator('.argosy-tab[data-tab="parameters"]').click()
    expect(view.locator(".argosy-wf-params")).to_contain_text("howdy")
    view.locator('.argosy-tab[data-tab="graph"]').click()


def submit_open_file_from_palette(page: Page, filename: str) -> None:
    open_file_browser(page)
    page.locator(".jp-DirListing-item", has_text=filename).dblclick()
    expect(page.locator(".jp-FileEditor:visible")).to_be_visible()
    page.locator(".jp-FileEditor:visible .cm-content").click()
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill("Submit workflow")
    page.locator(".lm-CommandPalette-item", has_text="Submit workflow").first.click()
    expect(page.locator(".jp-Dialog")).to_be_visible()


def check_suspend_and_resume(page: Page) -> None:
    submit_open_file_from_palette(page, "approval.yaml")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    view = detail_phase(page, "approval-")
    info = view.locator(".argosy-detail-info")
    expect(info).to_have_attribute("data-phase", "Running", timeout=FINISH_MS)
    suspend = view.locator('.argosy-action[data-action="suspend"]')
    resume = view.locator('.argosy-action[data-action="resume"]')
    expect(suspend).to_be_enabled()
    expect(resume).to_be_disabled()
    suspend.click()
    expect(resume).to_be_enabled()
    expect(suspend).to_be_disabled()
    resume.click()
    # On to the suspend step: the workflow waits there, and resume releases it.
    expect(view.locator('.argosy-node[data-display-name="approve"]')).to_have_class(
        "argosy-node argosy-phase-Running", timeout=FINISH_MS)
    expect(resume).to_be_enabled()
    resume.click()
    expect(info).to_have_attribute("data-phase", "Succeeded", timeout=FINISH_MS)
    expect(view.locator('.argosy-action[data-action="retry"]')).to_be_disabled()


def check_executed_notebook_downloads(page: Page) -> None:
    submit_from_browser(page, "notebook-pipeline.yaml")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    view = detail_phase(page, "notebook-pipeline-")
    expect(view.locator(".argosy-detail-info")).to_have_attribute(
        "data-phase", "Succeeded", timeout=FINISH_MS)
    view.locator('.argosy-node[data-display-name="prepare"]').click()
    link = view.locator(".argosy-node-info .argosy-artifact")
    expect(link).to_have_text("notebook")
    with page.expect_download() as caught:
        link.click()
    download = caught.value
    assert download.suggested_filename == "notebook.ipynb"
    executed = json.loads(Path(download.path()).read_text())
    printed = ["".join(o["text"]) for c in executed["cells"] for o in c.get("outputs", [])
               if o.get("name") == "stdout"]  # a string, or the list of its lines
    assert printed == ["sample of 8: [42, 20, 51, 84, 7, 10, 69, 13]\n"]


def check_delete_asks_first(page: Page) -> None:
    view = page.locator(".argosy-detail:visible")
    view.locator('.argosy-action[data-action="delete"]').click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Delete workflow?")
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
    expect(dialog).to_have_count(0)
    expect(view.locator(".argosy-detail-info")).to_have_attribute("data-phase", "Succeeded")


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: the README's pictures only on request, so that a test run leaves
    the tree as it found it."""
    return DOCS_SHOTS if os.environ.get("ARGOSY_UPDATE_SCREENSHOTS") else tmp_path


def test_panel_in_the_browser(page: Page, lab: Any, shots: Path) -> None:
    """One scenario in order (pytest-xdist would spread separate tests over workers)."""
    check_panel_empty(page)
    check_submit_reaches_succeeded(page, shots)
    check_node_logs_and_outputs(page, shots)
    check_suspend_and_resume(page)
    check_delete_asks_first(page)
    check_executed_notebook_downloads(page)
    assert lab.console_errors == []


def test_labextension_installed() -> None:
    out = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "labextension", "list"],
                         capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"))
    lines = [ln for ln in (out.stdout + out.stderr).splitlines() if "argosy-labextension" in ln]
    assert len(lines) == 1, out.stdout + out.stderr
    words = re.sub(r"\x1b\[[0-9;]*m", "", lines[0]).split()
    assert words == ["argosy-labextension", "v0.1.0", "enabled", "OK"]
