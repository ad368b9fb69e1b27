"""docs/screenshots in light and dark theme, and the panel's performance figures, from the panel
against the fake API (so the pictures show the same workflows each time).

`ARGOSY_UPDATE_SCREENSHOTS=1 pytest tests/ui` writes the pictures into docs/screenshots; without
it they go to a temporary directory. The figures are printed, never asserted (wall time).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import Lab, wait_restored
from tests.ui.test_panel_fake import T0, iso, loop_nodes, open_panel, open_workflow, pod, workflow

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHASES = ["Succeeded", "Running", "Failed", "Succeeded", "Pending", "Error", "Succeeded"]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return DOCS_SHOTS if os.environ.get("ARGOSY_UPDATE_SCREENSHOTS") else tmp_path


def fan_out() -> dict[str, Any]:
    """A DAG: prepare, a 20-item loop (some done, some running, some waiting), report."""
    nodes: dict[str, Any] = {
        "fan": {"id": "fan", "name": "fan-out", "displayName": "fan-out", "type": "DAG",
                "phase": "Running", "startedAt": T0, "children": ["fan-prepare"]},
        "fan-prepare": pod("fan-out", "fan-prepare", "prepare", children=["fan-loop"]),
        "fan-loop": {"id": "fan-loop", "name": "fan-out.process", "displayName": "process",
                     "type": "TaskGroup", "phase": "Running", "startedAt": T0, "children": []},
        "fan-report": pod("fan-out", "fan-report", "report", "Pending"),
    }
    for i in range(20):
        phase = "Succeeded" if i < 12 else "Running" if i < 16 else "Pending"
        ident = f"fan-{i}"
        nodes[ident] = pod("fan-out", ident, f"process({i}:item-{i})", phase, ["fan-report"])
        nodes["fan-loop"]["children"].append(ident)
    # Two minutes ago, so running steps' bars end at now as they would.
    start = datetime.now(UTC) - timedelta(minutes=2)
    for offset, node in enumerate(nodes.values()):  # staggered, for the timeline
        node["startedAt"] = iso(start + timedelta(seconds=4 * offset))
        if "finishedAt" in node:
            node["finishedAt"] = iso(start + timedelta(seconds=4 * offset + 9 + offset % 5))
    wf = workflow("fan-out", "Running", nodes, created="2026-01-01T12:00:00Z", rv=40)
    wf["status"]["startedAt"] = iso(start)
    return wf


def failed() -> dict[str, Any]:
    bad = pod("train", "train-fit", "fit", "Failed")
    bad.update(message="OOMKilled (exit code 137)", outputs={"exitCode": "137"},
               hostNodeName="localhost", resourcesDuration={"cpu": 41, "memory": 80},
               templateName="fit")
    nodes = {
        "train": {"id": "train", "name": "train", "displayName": "train", "type": "Steps",
                  "phase": "Failed", "startedAt": T0, "children": ["train-g0"]},
        "train-g0": {"id": "train-g0", "name": "train[0]", "displayName": "[0]",
                     "type": "StepGroup", "phase": "Succeeded", "children": ["train-load"]},
        "train-load": pod("train", "train-load", "load", children=["train-g1"]),
        "train-g1": {"id": "train-g1", "name": "train[1]", "displayName": "[1]",
                     "type": "StepGroup", "phase": "Failed", "children": ["train-fit"]},
        "train-fit": bad,
    }
    wf = workflow("train", "Failed", nodes, created="2026-01-01T11:00:00Z")
    wf["status"]["message"] = "child 'train-fit' failed"
    return wf


def catalog() -> dict[str, list[dict[str, Any]]]:
    """Templates to submit from and crons, for the Templates and crons page."""
    def params(*names: str) -> dict[str, Any]:
        return {"parameters": [{"name": n, "value": "x"} for n in names]}

    return {
        "templates": [
            {"metadata": {"name": "etl", "namespace": "default",
                          "creationTimestamp": "2026-01-01T08:00:00Z"},
             "spec": {"entrypoint": "main", "arguments": params("day", "source")}},
            {"metadata": {"name": "train", "namespace": "default",
                          "creationTimestamp": "2026-01-01T08:30:00Z"},
             "spec": {"entrypoint": "fit", "arguments": params("epochs")}}],
        "clusterTemplates": [
            {"metadata": {"name": "notify", "creationTimestamp": "2026-01-01T07:00:00Z"},
             "spec": {"entrypoint": "send", "arguments": params("channel")}}],
        "crons": [
            {"metadata": {"name": "nightly-etl", "namespace": "default"},
             "spec": {"schedule": "0 2 * * *", "suspend": False},
             "status": {"lastScheduledTime": "2026-01-01T02:00:00Z"}}],
    }


def examples() -> list[dict[str, Any]]:
    wfs = [fan_out(), failed(),
           workflow("big-loop", "Succeeded", loop_nodes("big-loop", 2000),
                    created="2026-01-01T10:30:00Z")]
    now = datetime.now(UTC)
    for i, phase in enumerate(PHASES):
        wf = workflow(f"etl-{i:02d}", phase, created=f"2026-01-01T09:{i:02d}:00Z",
                      namespace="data" if i % 3 == 0 else "default")
        if phase == "Running":  # started a while ago, not a year ago
            wf["status"]["startedAt"] = iso(now - timedelta(minutes=7, seconds=12))
        elif phase == "Pending":
            del wf["status"]["startedAt"]
        wfs.append(wf)
    return wfs


def load(page: Page, wfs: list[dict[str, Any]]) -> None:
    """Puts `wfs` behind the fake API and reloads: the panel lists them from a fresh start."""
    page.evaluate("""wfs => sessionStorage.setItem('argosy-fake-workflows', JSON.stringify(
        wfs.map(w => [`${w.metadata.namespace}/${w.metadata.name}`, w])))""", wfs)
    page.reload()
    wait_restored(page)


def set_theme(lab: Lab, theme: str) -> None:
    settings = (lab.root.parent / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab"
                / "apputils-extension" / "themes.jupyterlab-settings")
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"theme": theme}))


def close_tabs(page: Page) -> None:
    page.evaluate("() => document.querySelectorAll('.lm-DockPanel-tabBar .lm-TabBar-tab')"
                  ".forEach(t => t.querySelector('.lm-TabBar-tabCloseIcon')"
                  "?.dispatchEvent(new MouseEvent('click', {bubbles: true})))")


def pane_in_view(page: Page, width: int) -> None:
    box = page.locator(".argosy-detail:visible .argosy-node-info").bounding_box()
    assert box is not None and box["x"] + box["width"] <= width + 1, box


def test_screenshots_in_both_themes(fake_page: Page, lab: Lab, shots: Path) -> None:
    page = fake_page
    for theme, prefix in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        set_theme(lab, theme)
        page.set_viewport_size({"width": 1400, "height": 900})
        load(page, examples())
        close_tabs(page)
        open_panel(page)
        expect(page.locator("#argosy-workflows .argosy-status")).to_have_text(
            "10 of 10 workflows")
        page.locator("#argosy-workflows").screenshot(path=str(shots / f"{prefix}-list.png"))
        page.evaluate("c => Object.assign(window.__argosyFake, c)", catalog())
        page.locator("#argosy-workflows .argosy-open-catalog").click()
        expect(page.locator(".argosy-catalog:visible .argosy-catalog-row")).to_have_count(4)
        page.screenshot(path=str(shots / f"{prefix}-templates.png"))
        view = open_workflow(page, "fan-out")
        page.evaluate("() => { window.__argosyFake.log = ['processing item-13', "
                      "'read 1,024 rows', 'wrote 998 rows']; }")
        view.locator('.argosy-node[data-display-name="process(13:item-13)"]').click()
        pane_in_view(page, 1400)
        page.screenshot(path=str(shots / f"{prefix}-loop.png"))
        view.locator('.argosy-tab[data-tab="timeline"]').click()
        expect(view.locator(".argosy-timeline-row")).to_have_count(22)
        page.screenshot(path=str(shots / f"{prefix}-timeline.png"))
        view.locator('.argosy-tab[data-tab="graph"]').click()
        page.set_viewport_size({"width": 1024, "height": 768})
        view.locator('.argosy-zoom-button[aria-label="Fit to view"]').click()
        pane_in_view(page, 1024)
        page.screenshot(path=str(shots / f"{prefix}-loop-1024x768.png"))
        page.set_viewport_size({"width": 1400, "height": 900})
        view = open_workflow(page, "train")
        view.locator('.argosy-node[data-display-name="fit"]').click()
        page.screenshot(path=str(shots / f"{prefix}-failed-node.png"))
        view.locator('.argosy-node[data-display-name="load"]').click()
        expect(view.locator(".argosy-logs")).to_contain_text("wrote 998 rows")
        view.locator(".argosy-node-info").screenshot(path=str(shots / f"{prefix}-logs.png"))
        view = open_workflow(page, "big-loop")
        view.locator('.argosy-node[data-display-name="[0]"]').click()
        expect(view.locator('.argosy-node[data-display-name^="item("]').first).to_be_visible()
        page.screenshot(path=str(shots / f"{prefix}-2000-nodes.png"))
    set_theme(lab, "JupyterLab Light")


@pytest.mark.parametrize("size", [2_000, 100_000], ids=["2k", "100k"])
def test_performance_figures(size: int, fake_page: Page,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's figures, measured in the browser and printed (not asserted: wall time)."""
    page = fake_page
    many = [workflow(f"wf-{i:04d}", PHASES[i % len(PHASES)],
                     {f"wf-{i:04d}": pod(f"wf-{i:04d}", f"wf-{i:04d}", "main")},
                     created=f"2026-01-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z")
            for i in range(1000)]
    load(page, many)
    page.wait_for_function("() => document.querySelector('#argosy-workflows .argosy-status')"
                           "?.textContent === '1000 of 1000 workflows'", timeout=60_000)
    listed = page.evaluate("() => performance.now()")
    # The big one arrives as a watch event (100,000 nodes are more than sessionStorage holds).
    big = workflow("big-loop", "Running", loop_nodes("big-loop", size, "Running"),
                   created="2027-01-01T00:00:00Z")
    arrived = page.evaluate("""wf => new Promise(done => {
        const t0 = performance.now();
        window.__argosyFake.push('ADDED', wf);
        const listed = () => document.querySelector('#argosy-workflows .argosy-status')
            ?.textContent === '1001 of 1001 workflows'
            ? done(performance.now() - t0) : requestAnimationFrame(listed);
        listed();
    })""", big)
    open_panel(page)
    page.evaluate("""() => {
        window.__longest = 0;
        new PerformanceObserver(l => l.getEntries().forEach(e => {
            window.__longest = Math.max(window.__longest, e.duration); }))
            .observe({type: 'longtask'});
        window.__t0 = performance.now();
    }""")
    view = open_workflow(page, "big-loop")
    group = view.locator('.argosy-node[data-display-name="[0]"]')
    expect(group).to_be_visible()
    opened = page.evaluate("() => performance.now() - window.__t0")
    page.wait_for_timeout(500)
    # Clicked in the page and timed to the second frame after: the expanded graph drawn.
    expanded = page.evaluate("""() => new Promise(done => {
        window.__longest = 0;
        const t0 = performance.now();
        document.querySelector('.argosy-detail:not(.lm-mod-hidden) '
            + '.argosy-node[data-display-name="[0]"]').dispatchEvent(
            new MouseEvent('click', {bubbles: true}));
        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
    })""")
    items = view.locator('.argosy-node[data-display-name^="item("]')
    expect(items.first).to_be_visible()
    page.wait_for_timeout(500)
    longest = page.evaluate("() => window.__longest")
    drawn = items.count()
    timeline = page.evaluate("""() => new Promise(done => {
        const t0 = performance.now();
        document.querySelector('.argosy-detail:not(.lm-mod-hidden) '
            + '.argosy-tab[data-tab="timeline"]').click();
        requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t0)));
    })""")
    expect(view.locator(".argosy-timeline-row").first).to_be_visible()
    with capsys.disabled():
        print(f"\npanel performance: 1,000 workflows listed {listed / 1000:.2f} s after reload;"
              f" a {size:,}-node workflow listed {arrived / 1000:.2f} s after its event,"
              f" opened collapsed in {opened / 1000:.2f} s; expanded in"
              f" {expanded / 1000:.2f} s ({drawn} nodes in view drawn), longest main-thread"
              f" task {longest:.0f} ms; its timeline drawn in {timeline / 1000:.2f} s")
