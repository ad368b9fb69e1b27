"""The panel against a fake API (fake_api.js) whose every event the test sends: issue #18's bugs,
each reproduced by the events and reply orders that showed it."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.conformance.test_argo_lifecycle import wait_for
from tests.ui.conftest import TOKEN, Lab, wait_restored

T0 = "2026-01-01T10:00:00Z"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def workflow(name: str, phase: str = "Succeeded", nodes: dict[str, Any] | None = None, *,
             rv: int = 1, created: str = T0, started: str = T0, suspend: bool = False,
             namespace: str = "default") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "startedAt": started, "nodes": nodes or {}}
    if phase not in ("Running", "Pending"):
        status["finishedAt"] = started
    spec: dict[str, Any] = {"entrypoint": "main"}
    if suspend:
        spec["suspend"] = True
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                         "creationTimestamp": created, "resourceVersion": str(rv)},
            "spec": spec, "status": status}


def pod(wf: str, ident: str, display: str, phase: str = "Succeeded",
        children: list[str] | None = None, started: str = T0) -> dict[str, Any]:
    node = {"id": ident, "name": f"{wf}.{display}", "displayName": display, "type": "Pod",
            "phase": phase, "startedAt": started, "children": children or []}
    if phase not in ("Running", "Pending"):
        node["finishedAt"] = started
    return node


def loop_nodes(wf: str, items: int, phase: str = "Succeeded") -> dict[str, Any]:
    """Steps: a loop of `items` pods in one step group, then a final step."""
    nodes: dict[str, Any] = {
        wf: {"id": wf, "name": wf, "displayName": wf, "type": "Steps", "phase": phase,
             "children": [f"{wf}-g0"]},
        f"{wf}-g0": {"id": f"{wf}-g0", "name": f"{wf}[0]", "displayName": "[0]",
                     "type": "StepGroup", "phase": phase, "children": []},
        f"{wf}-g1": {"id": f"{wf}-g1", "name": f"{wf}[1]", "displayName": "[1]",
                     "type": "StepGroup", "phase": phase, "children": [f"{wf}-final"]},
        f"{wf}-final": pod(wf, f"{wf}-final", "final", phase),
    }
    for i in range(items):
        ident = f"{wf}-item-{i}"
        nodes[ident] = pod(wf, ident, f"item({i}:{i})", phase, [f"{wf}-g1"])
        nodes[f"{wf}-g0"]["children"].append(ident)
    return nodes


def push(page: Page, kind: str, wf: dict[str, Any]) -> None:
    page.evaluate("([kind, wf]) => window.__argosyFake.push(kind, wf)", [kind, wf])


def open_panel(page: Page) -> None:
    if page.locator("#argosy-workflows").is_hidden():
        page.locator('.jp-SideBar [data-id="argosy-workflows"]').click()
    expect(page.locator("#argosy-workflows")).to_be_visible()


def open_workflow(page: Page, name: str):  # type: ignore[no-untyped-def]
    open_panel(page)
    page.locator(f'#argosy-workflows .argosy-row[data-name="{name}"]').click()
    view = page.locator(".argosy-detail:visible")
    expect(view.locator(".argosy-detail-title")).to_have_text(name)
    return view


def viewport_of(page: Page) -> dict[str, float]:
    """The graph's pan and zoom, as the view's transform says."""
    return page.evaluate("""() => {
        const g = document.querySelector('.argosy-detail:not(.lm-mod-hidden) .argosy-viewport');
        const m = g.transform.baseVal.consolidate().matrix;
        return {x: m.e, y: m.f, k: m.a};
    }""")


def test_wide_graph_pans_zooms_and_keeps_the_node_pane_in_view(fake_page: Page) -> None:
    page = fake_page
    push(page, "ADDED", workflow("wide", nodes=loop_nodes("wide", 20)))
    view = open_workflow(page, "wide")
    view.locator('.argosy-zoom-button[aria-label="Fit to view"]').click()
    view.locator('.argosy-node[data-display-name="item(19:19)"]').click()
    pane = view.locator(".argosy-node-info")
    expect(pane.locator("h3")).to_have_text("item(19:19)")
    box = pane.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1400, box
    graph = view.locator(".argosy-graph")
    g = graph.bounding_box()
    assert g is not None and g["x"] + g["width"] <= box["x"] + 1, (g, box)
    # Drag pans, the wheel zooms, keys do both, and fit shows the whole graph.
    before = viewport_of(page)
    page.mouse.move(g["x"] + 20, g["y"] + g["height"] - 20)
    page.mouse.down()
    page.mouse.move(g["x"] + 120, g["y"] + g["height"] - 60, steps=4)
    page.mouse.up()
    dragged = viewport_of(page)
    assert (round(dragged["x"] - before["x"]), round(dragged["y"] - before["y"])) == (100, -40)
    page.mouse.wheel(0, -300)
    assert viewport_of(page)["k"] > dragged["k"]
    graph.focus()
    page.keyboard.press("-")
    page.keyboard.press("-")
    zoomed_out = viewport_of(page)
    page.keyboard.press("ArrowLeft")
    assert viewport_of(page)["x"] != zoomed_out["x"]
    view.locator('.argosy-zoom-button[aria-label="Fit to view"]').click()
    nodes = view.locator(".argosy-viewport").bounding_box()
    assert nodes is not None
    assert nodes["x"] >= g["x"] - 1 and nodes["x"] + nodes["width"] <= g["x"] + g["width"] + 1


def test_a_2000_item_level_wraps_and_its_group_collapses_again(fake_page: Page) -> None:
    page = fake_page
    push(page, "ADDED", workflow("huge", nodes=loop_nodes("huge", 2000)))
    view = open_workflow(page, "huge")
    group = view.locator('.argosy-node[data-display-name="[0]"]')
    expect(group).to_contain_text("\N{MULTIPLICATION SIGN}2000")
    items = view.locator('.argosy-node[data-display-name^="item("]')
    expect(items).to_have_count(0)
    group.click()
    expect(items.first).to_be_visible()
    # Only the nodes in view are drawn: a screenful, not the page of 500.
    drawn = items.count()
    assert 0 < drawn < 500, drawn
    last = view.locator('.argosy-node[data-display-name="item(499:499)"]')
    expect(last).to_have_count(0)
    view.locator('.argosy-zoom-button[aria-label="Fit to view"]').click()
    expect(last).to_have_count(1)  # in view now, so drawn
    size = page.evaluate("""() => {
        const b = document.querySelector('.argosy-detail:not(.lm-mod-hidden) .argosy-viewport')
            .getBBox();
        return [b.width, b.height];
    }""")
    assert size[0] < 10_000, size  # wrapped into rows, not one level 85,000 px wide
    group.click()
    expect(items).to_have_count(0)


def test_nodes_past_a_big_groups_first_page_can_be_reached_and_selected(fake_page: Page) -> None:
    page = fake_page
    nodes = loop_nodes("paged", 2000)
    nodes["paged-item-1500"]["phase"] = "Failed"
    push(page, "ADDED", workflow("paged", "Failed", nodes))
    view = open_workflow(page, "paged")
    view.locator('.argosy-node[data-display-name="[0]"]').click()
    fit = view.locator('.argosy-zoom-button[aria-label="Fit to view"]')
    fit.click()
    # The first page (items 0 to 499), the failed item past it, a stand-in for the rest.
    node = view.locator(".argosy-node")
    expect(node.and_(page.locator('[data-display-name="item(499:499)"]'))).to_have_count(1)
    expect(node.and_(page.locator('[data-display-name="item(500:500)"]'))).to_have_count(0)
    failed = node.and_(page.locator('[data-display-name="item(1500:1500)"]'))
    expect(failed).to_have_class(re.compile(r"argosy-phase-Failed"))
    more = node.and_(page.locator('[data-display-name="1,499 more"]'))
    expect(more).to_contain_text("1,499 more")
    # The stand-in shows the next page where it was: its first item is in view, and selects.
    more.click()
    item = node.and_(page.locator('[data-display-name="item(500:500)"]'))
    expect(item).to_be_visible()
    item.click()
    expect(view.locator(".argosy-node-info h3")).to_have_text("item(500:500)")
    expect(item).to_have_class(re.compile(r"argosy-selected"))
    fit.click()
    expect(node.and_(page.locator('[data-display-name="999 more"]'))).to_have_count(1)
    failed.click()
    expect(view.locator(".argosy-node-info h3")).to_have_text("item(1500:1500)")
    expect(view.locator(".argosy-node-info .argosy-fact-phase")).to_have_text("Failed")


def test_a_2000_step_timeline_draws_the_rows_in_view_and_scrolls_to_the_last(
        fake_page: Page) -> None:
    page = fake_page
    push(page, "ADDED", workflow("long", nodes=loop_nodes("long", 2000)))
    view = open_workflow(page, "long")
    view.locator('.argosy-tab[data-tab="timeline"]').click()
    rows = view.locator(".argosy-timeline-row")
    expect(rows.first).to_be_visible()
    assert 0 < rows.count() < 200, rows.count()
    # Started together, they follow by name: item(999:999) is the last of 2,001 steps.
    last = view.locator('.argosy-timeline-row[data-node-id="long-item-999"]')
    expect(last).to_have_count(0)
    view.locator(".argosy-timeline").evaluate("box => { box.scrollTop = box.scrollHeight; }")
    expect(last).to_be_visible()
    last.click()
    expect(view.locator(".argosy-node-info h3")).to_have_text("item(999:999)")


def test_running_durations_tick_between_events(fake_page: Page) -> None:
    page = fake_page
    started = iso(datetime.now(UTC) - timedelta(seconds=30))
    nodes = {"tick": pod("tick", "tick", "work", "Running", started=started)}
    push(page, "ADDED", workflow("tick", "Running", nodes, started=started))
    view = open_workflow(page, "tick")
    view.locator('.argosy-node[data-display-name="work"]').click()
    info = view.locator(".argosy-detail-info")
    duration = view.locator(".argosy-node-info .argosy-fact-duration")
    first, node_first = info.inner_text(), duration.inner_text()
    expect(info).not_to_have_text(first, timeout=5000)
    expect(duration).not_to_have_text(node_first, timeout=5000)


def test_a_deleted_workflow_stays_deleted_when_a_node_is_clicked(fake_page: Page) -> None:
    page = fake_page
    wf = workflow("gone", nodes={"gone": pod("gone", "gone", "only")})
    push(page, "ADDED", wf)
    view = open_workflow(page, "gone")
    push(page, "DELETED", wf)
    header = view.locator(".argosy-detail-header")
    expect(header).to_contain_text("was deleted")
    view.locator('.argosy-node[data-display-name="only"]').click()
    expect(view.locator(".argosy-node-info h3")).to_have_text("only")
    expect(header).to_contain_text("was deleted")
    expect(view.locator(".argosy-action:enabled")).to_have_count(0)
    logs = page.evaluate("() => window.__argosyFake.requests.filter(r => r.endsWith('/log'))")
    assert logs == []


def test_the_list_selection_follows_the_workflow_not_the_row(fake_page: Page) -> None:
    page = fake_page
    push(page, "ADDED", workflow("older", created="2026-01-01T10:00:00Z"))
    push(page, "ADDED", workflow("newer", created="2026-01-01T11:00:00Z"))
    open_workflow(page, "older")
    open_panel(page)
    selected = page.locator('#argosy-workflows .argosy-row[aria-selected="true"]')
    expect(selected).to_have_attribute("data-name", "older")
    push(page, "ADDED", workflow("newest", created="2026-01-01T12:00:00Z"))
    expect(page.locator("#argosy-workflows .argosy-row").first).to_have_attribute(
        "data-name", "newest")
    expect(selected).to_have_attribute("data-name", "older")


def test_a_loop_collapses_when_it_grows_big_while_open(fake_page: Page) -> None:
    page = fake_page
    push(page, "ADDED", workflow("grow", "Running", loop_nodes("grow", 3, "Running")))
    view = open_workflow(page, "grow")
    items = view.locator('.argosy-node[data-display-name^="item("]')
    expect(items).to_have_count(3)
    push(page, "MODIFIED", workflow("grow", "Running", loop_nodes("grow", 2000, "Running"),
                                    rv=2))
    group = view.locator('.argosy-node[data-display-name="[0]"]')
    expect(group).to_contain_text("\N{MULTIPLICATION SIGN}2000")
    expect(items).to_have_count(0)


def saved_tabs(lab: Lab) -> list[str]:
    """The main area's tabs in the layout JupyterLab last saved to the server."""
    with urllib.request.urlopen(f"{lab.url}/lab/api/workspaces/default?token={TOKEN}") as r:
        layout = json.load(r)["data"].get("layout-restorer:data", {})
    dock = (layout.get("main") or {}).get("dock") or {}
    return list(dock.get("widgets", []))


def test_workflow_tabs_come_back_after_a_reload(fake_page: Page, lab: Lab) -> None:
    page = fake_page
    push(page, "ADDED", workflow("kept", nodes={"kept": pod("kept", "kept", "only")}))
    open_workflow(page, "kept")
    # JupyterLab saves its layout shortly after a change: reloading before would lose the tab.
    wait_for(lambda: "argosy-workflow:uid-kept" in saved_tabs(lab), 30)
    page.reload()
    wait_restored(page)
    view = page.locator(".argosy-detail:visible")
    expect(view.locator(".argosy-detail-title")).to_have_text("kept", timeout=30_000)
    expect(view.locator('.argosy-node[data-display-name="only"]')).to_be_visible()


def test_an_action_reply_never_overwrites_newer_state(fake_page: Page) -> None:
    page = fake_page
    gate = {"id": "gate", "name": "wait.gate", "displayName": "gate", "type": "Suspend",
            "phase": "Running", "startedAt": T0}
    waiting = workflow("wait", "Running", {"gate": gate}, rv=5)
    push(page, "ADDED", waiting)
    view = open_workflow(page, "wait")
    resume = view.locator('.argosy-action[data-action="resume"]')
    expect(resume).to_be_enabled()
    # The reply is the state the server had when it took the request; the engine's resume
    # event overtakes it.
    page.evaluate("wf => window.__argosyFake.hold('resume', wf)", waiting)
    resume.click()
    done = workflow("wait", "Succeeded", {"gate": dict(gate, phase="Succeeded",
                                                       finishedAt=T0)}, rv=7)
    push(page, "MODIFIED", done)
    expect(view.locator(".argosy-detail-info")).to_have_attribute("data-phase", "Succeeded")
    page.evaluate("() => window.__argosyFake.release('resume')")
    page.wait_for_function("() => window.__argosyFake.replies.resume.replied")
    page.wait_for_timeout(1000)  # the reply's redraw, had it been taken
    expect(view.locator(".argosy-detail-info")).to_have_attribute("data-phase", "Succeeded")
    expect(resume).to_be_disabled()


def test_empty_list_suspended_namespace_icons_busy_and_resubmit(fake_page: Page) -> None:
    page = fake_page
    open_panel(page)
    empty = page.locator("#argosy-workflows .argosy-empty")
    expect(empty).to_be_visible()
    expect(empty.locator("button")).to_have_text("Submit a workflow…")
    held = workflow("held", "Running", {"held": pod("held", "held", "work", "Running")},
                    suspend=True, namespace="team-a", rv=3)
    push(page, "ADDED", held)
    expect(empty).to_be_hidden()
    row = page.locator('#argosy-workflows .argosy-row[data-name="held"]')
    expect(row.locator(".argosy-row-phase")).to_have_text("Suspended")
    expect(row.locator(".argosy-row-namespace")).to_have_text("team-a")
    view = open_workflow(page, "held")
    expect(view.locator(".argosy-detail-info")).to_contain_text("Suspended")
    node = view.locator('.argosy-node[data-display-name="work"]')
    expect(node.locator(".argosy-icon.argosy-phase-Running")).to_have_count(1)
    expect(node.locator(".argosy-node-note")).to_have_text(re.compile(r"^\d+[smhd]"))
    # An action holds every button, its own marked busy, until the workflow changes.
    page.evaluate("wf => window.__argosyFake.hold('resume', wf)", held)
    resume = view.locator('.argosy-action[data-action="resume"]')
    resume.click()
    expect(resume).to_have_attribute("aria-busy", "true")
    expect(view.locator(".argosy-action:enabled")).to_have_count(0)
    page.evaluate("() => window.__argosyFake.release('resume')")
    running = dict(held, spec={"entrypoint": "main"},
                   metadata=dict(held["metadata"], resourceVersion="4"))
    push(page, "MODIFIED", running)
    expect(resume).not_to_have_attribute("aria-busy", "true")
    expect(view.locator('.argosy-action[data-action="suspend"]')).to_be_enabled()
    # Resubmit opens the new workflow's tab.
    again = workflow("held-x7k2p", "Pending", namespace="team-a",
                     created="2026-01-02T00:00:00Z")
    page.evaluate("wf => window.__argosyFake.hold('resubmit', wf)", again)
    page.evaluate("() => window.__argosyFake.release('resubmit')")
    view.locator('.argosy-action[data-action="resubmit"]').click()
    expect(page.locator(".argosy-detail:visible .argosy-detail-title")).to_have_text(
        "held-x7k2p")


def test_node_pane_facts_and_node_actions(fake_page: Page, lab: Lab) -> None:
    page = fake_page
    broken = pod("broken", "broken-9f3", "crunch", "Failed")
    broken.update(message="Error (exit code 3)", hostNodeName="worker-1",
                  resourcesDuration={"cpu": 4, "memory": 9},
                  outputs={"exitCode": "3"}, templateName="crunch")
    gate = {"id": "broken-gate", "name": "broken.gate", "displayName": "gate",
            "type": "Suspend", "phase": "Running", "templateName": "gate", "startedAt": T0}
    wf = workflow("broken", "Failed", {"broken-9f3": broken, "broken-gate": gate}, rv=2)
    wf["spec"]["templates"] = [{"name": "gate", "suspend": {},
                                "outputs": {"parameters": [{"name": "answer"}]}}]
    push(page, "ADDED", wf)
    page.evaluate("() => { window.__argosyFake.log = ['loading', 'crunching 3 rows', "
                  "'cannot crunch row 3']; }")
    view = open_workflow(page, "broken")
    view.locator('.argosy-node[data-display-name="crunch"]').click()
    pane = view.locator(".argosy-node-info")
    # Logs: grep as you type, download what was read.
    logs = pane.locator(".argosy-logs")
    expect(logs).to_have_text("loading\ncrunching 3 rows\ncannot crunch row 3\n")
    pane.locator(".argosy-log-grep").fill("crunch")
    expect(logs).to_have_text("crunching 3 rows\ncannot crunch row 3\n")
    with page.expect_download() as caught:
        pane.locator(".argosy-log-download").click()
    assert caught.value.suggested_filename == "broken-crunch.log"
    assert Path(caught.value.path()).read_text().count("\n") == 3
    expect(pane.locator(".argosy-fact-exit-code")).to_have_text("3")
    expect(pane.locator(".argosy-fact-host")).to_have_text("worker-1")
    expect(pane.locator(".argosy-fact-resources")).to_have_text("4s*cpu, 9s*memory")
    expect(pane.locator(".argosy-fact-message")).to_have_text("Error (exit code 3)")
    expect(pane.locator(".argosy-fact-id")).to_have_text("broken-9f3")
    # The timeline: a bar per started step, not per group; a row leads to its node.
    view.locator('.argosy-tab[data-tab="timeline"]').click()
    rows = view.locator(".argosy-timeline-row")
    expect(rows).to_have_count(2)
    expect(rows.locator(".argosy-timeline-bar.argosy-phase-Failed")).to_have_count(1)
    rows.filter(has_text="crunch").click()
    expect(pane.locator("h3")).to_have_text("crunch")
    expect(view.locator('.argosy-tab[data-tab="graph"]')).to_have_attribute(
        "aria-selected", "true")
    # The YAML tab downloads the workflow as a file.
    view.locator('.argosy-tab[data-tab="yaml"]').click()
    expect(view.locator(".argosy-yaml")).to_contain_text("name: broken")
    with page.expect_download() as caught:
        view.locator(".argosy-yaml-download").click()
    assert caught.value.suggested_filename == "broken.yaml"
    assert "phase: Failed" in Path(caught.value.path()).read_text()
    # It is JupyterLab's code editor, read-only, with YAML's highlighting.
    editor = view.locator(".argosy-yaml .cm-editor")
    expect(editor).to_have_count(1)
    content = editor.locator(".cm-content")
    expect(content).to_have_attribute("aria-readonly", "true")
    content.click()
    page.keyboard.type("typed")
    expect(content).not_to_contain_text("typed")
    expect(editor.locator(".cm-line span").first).to_be_visible()
    # Opened as a file: a YAML document of its own, in JupyterLab's editor.
    view.locator(".argosy-yaml-open").click()
    doc = page.locator(".jp-FileEditor:visible")
    expect(page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current")).to_have_text(
        "broken.yaml")
    expect(doc.locator(".cm-content")).to_contain_text("phase: Failed")
    assert (lab.root / "broken.yaml").exists()
    view = open_workflow(page, "broken")
    view.locator('.argosy-tab[data-tab="graph"]').click()
    page.evaluate("wf => { const f = window.__argosyFake; ['retry', 'resume', 'set']"
                  ".forEach(v => { f.hold(v, wf); f.release(v); }); }", wf)
    def changed(rv: int) -> None:  # the next revision: the buttons leave their busy state
        push(page, "MODIFIED", dict(wf, metadata=dict(wf["metadata"], resourceVersion=str(rv))))

    pane.locator('.argosy-node-action[data-action="retry-node"]').click()
    changed(3)
    view.locator('.argosy-node[data-display-name="gate"]').click()
    expect(pane.locator('.argosy-node-action[data-action="retry-node"]')).to_have_count(0)
    pane.locator('.argosy-node-action[data-action="resume-node"]').click()
    changed(4)
    pane.locator('.argosy-node-action[data-action="set-outputs"]').click()
    page.locator('.jp-Dialog input[name="output-answer"]').fill("yes")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    page.wait_for_function("() => window.__argosyFake.bodies.length === 3")
    bodies = page.evaluate("() => window.__argosyFake.bodies")
    assert bodies == [
        {"verb": "retry", "body": {"nodeFieldSelector": "id=broken-9f3",
                                   "restartSuccessful": True}},
        {"verb": "resume", "body": {"nodeFieldSelector": "id=broken-gate"}},
        {"verb": "set", "body": {"nodeFieldSelector": "id=broken-gate",
                                 "outputParameters": '{"answer":"yes"}'}}]


def test_a_pending_step_waits_on_the_timeline_instead_of_growing(fake_page: Page) -> None:
    page = fake_page
    start = datetime.now(UTC) - timedelta(hours=2)
    done = pod("gantt", "gantt-a", "first", started=iso(start))
    done["finishedAt"] = iso(start + timedelta(seconds=60))
    queued = pod("gantt", "gantt-b", "queued", "Pending",
                 started=iso(start + timedelta(seconds=60)))
    push(page, "ADDED", workflow("gantt", "Running", {"gantt-a": done, "gantt-b": queued},
                                 started=iso(start)))
    view = open_workflow(page, "gantt")
    # In the graph too, a step that has not run shows no running time.
    note = '.argosy-node[data-display-name="{}"] .argosy-node-note'
    expect(view.locator(note.format("first"))).to_have_text("1m 0s")
    expect(view.locator(note.format("queued"))).to_have_count(0)
    view.locator('.argosy-tab[data-tab="timeline"]').click()
    row = view.locator('.argosy-timeline-row[data-node-id="gantt-b"]')
    expect(row.locator(".argosy-timeline-took")).to_have_text("waiting")
    # The finished minute fills the track; the queued step is a mark at its start, not a bar
    # that runs on for the two hours since.
    widths = page.evaluate("""() => [...document.querySelectorAll(
        '.argosy-detail:not(.lm-mod-hidden) .argosy-timeline-bar')].map(b => b.style.width)""")
    assert widths == ["100%", "0.3%"], widths


def test_logs_of_each_container_with_timestamps(fake_page: Page) -> None:
    page = fake_page
    node = pod("side", "side-1", "serve", started=T0)
    node["templateName"] = "serve"
    wf = workflow("side", nodes={"side-1": node})
    wf["spec"]["templates"] = [{"name": "serve", "container": {"image": "alpine"},
                                "initContainers": [{"name": "setup"}],
                                "sidecars": [{"name": "db"}]}]
    push(page, "ADDED", wf)
    page.evaluate("() => { window.__argosyFake.log = ['served']; "
                  "window.__argosyFake.logs = {db: ['db up', 'db down']}; }")
    view = open_workflow(page, "side")
    view.locator('.argosy-node[data-display-name="serve"]').click()
    pane = view.locator(".argosy-node-info")
    logs = pane.locator(".argosy-logs")
    expect(logs).to_have_text("served\n")
    picker = pane.locator("select.argosy-log-container")
    expect(picker.locator("option")).to_have_text(["main", "setup", "db"])
    picker.select_option("db")
    expect(logs).to_have_text("db up\ndb down\n")
    pane.locator(".argosy-log-timestamps-box").check()
    expect(logs).to_have_text("2026-01-01T10:00:00Z db up\n2026-01-01T10:00:00Z db down\n")
    asked = page.evaluate("() => window.__argosyFake.requests.filter(r => r.endsWith('/log'))")
    assert len(asked) == 3, asked


def test_templates_and_crons_page(fake_page: Page) -> None:
    page = fake_page
    template = {"metadata": {"name": "etl", "namespace": "default"},
                "spec": {"entrypoint": "main", "arguments": {"parameters": [
                    {"name": "day", "value": "monday"}]}}}
    cron = {"metadata": {"name": "nightly", "namespace": "default"},
            "spec": {"schedule": "0 2 * * *", "suspend": False,
                     "workflowSpec": {"entrypoint": "main"}}}
    made = workflow("etl-4kq9z", "Running", created="2026-01-03T00:00:00Z")
    page.evaluate("([t, c, w]) => { const f = window.__argosyFake; f.templates = [t]; "
                  "f.clusterTemplates = [{metadata: {name: 'shared'}, spec: {}}]; "
                  "f.crons = [c]; f.submitted = w; }", [template, cron, made])
    open_panel(page)
    page.locator("#argosy-workflows .argosy-open-catalog").click()
    catalog = page.locator(".argosy-catalog:visible")
    templates = catalog.locator(".argosy-catalog-templates .argosy-catalog-row")
    expect(templates).to_have_count(1)
    expect(templates.first).to_contain_text("day")
    expect(catalog.locator(".argosy-catalog-cluster-templates .argosy-catalog-row")).to_have_text(
        [re.compile("^shared")])
    # A cron suspends and resumes, its state shown from the server's reply.
    row = catalog.locator('.argosy-catalog-crons .argosy-catalog-row[data-name="nightly"]')
    expect(row).to_contain_text("0 2 * * *")
    expect(row).to_contain_text("Active")
    row.locator(".argosy-cron-suspend").click()
    expect(row).to_contain_text("Suspended")
    expect(row.locator(".argosy-cron-resume")).to_be_enabled()
    row.locator(".argosy-cron-resume").click()
    expect(row).to_contain_text("Active")
    # Submit from the template with its parameter changed: the new workflow's tab opens.
    templates.first.locator(".argosy-catalog-submit").click()
    dialog = page.locator(".jp-Dialog")
    param = dialog.locator('input[name="param-day"]')
    expect(param).to_have_value("monday")
    param.fill("friday")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(page.locator(".argosy-detail:visible .argosy-detail-title")).to_have_text("etl-4kq9z")
    bodies = page.evaluate("() => window.__argosyFake.bodies")
    assert bodies == [
        {"verb": "cron-suspend", "name": "nightly"}, {"verb": "cron-resume", "name": "nightly"},
        {"verb": "submit", "body": {"namespace": "default", "resourceKind": "WorkflowTemplate",
                                    "resourceName": "etl",
                                    "submitOptions": {"parameters": ["day=friday"]}}}]
