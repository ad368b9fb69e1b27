"""The panel with 10,000 workflows (#19), against the fake API: what must hold at any speed is
asserted (every workflow listed, a filter finding one, the oldest reachable and opened); how
fast is printed with the longest main-thread task, never asserted (wall time)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_panel_fake import open_panel, open_workflow, pod, workflow

PHASES = ["Succeeded", "Running", "Failed", "Succeeded", "Pending", "Error", "Succeeded"]
TOTAL = 10_000

# Resolves with the milliseconds until the panel's status says `want`, from `start()`.
UNTIL_STATUS = """([want, start]) => new Promise(done => {
    const t0 = performance.now();
    (new Function(start))();
    const check = () => document.querySelector('#argosy-workflows .argosy-status')
        ?.textContent === want ? done(performance.now() - t0) : requestAnimationFrame(check);
    check();
})"""


def many() -> list[dict[str, object]]:
    return [workflow(f"wf-{i:05d}", PHASES[i % len(PHASES)],
                     {f"wf-{i:05d}": pod(f"wf-{i:05d}", f"wf-{i:05d}", "main")},
                     created=f"2026-01-{1 + i // 1440 % 28:02d}T{i // 60 % 24:02d}:"
                             f"{i % 60:02d}:00Z")
            for i in range(TOTAL)]


def longest_task(page: Page) -> float:
    return page.evaluate("() => { const t = window.__longest; window.__longest = 0; return t; }")


def test_ten_thousand_workflows(fake_page: Page, capsys: pytest.CaptureFixture[str]) -> None:
    page = fake_page
    open_panel(page)
    page.evaluate("""wfs => {
        window.__wfs = wfs;
        window.__longest = 0;
        new PerformanceObserver(l => l.getEntries().forEach(e => {
            window.__longest = Math.max(window.__longest, e.duration); }))
            .observe({type: 'longtask'});
    }""", many())
    # All of them at once, as a watch's first listing arrives.
    listed = page.evaluate(UNTIL_STATUS, [f"{TOTAL} of {TOTAL} workflows",
                                          "window.__argosyFake.pushAll('ADDED', window.__wfs)"])
    listing_task = longest_task(page)
    # One more arriving while 10,000 are listed.
    extra = workflow("wf-late", "Running", {}, created="2027-01-01T00:00:00Z")
    page.evaluate("wf => { window.__late = wf; }", extra)
    one_more = page.evaluate(UNTIL_STATUS, [f"{TOTAL + 1} of {TOTAL + 1} workflows",
                                            "window.__argosyFake.push('ADDED', window.__late)"])
    event_task = longest_task(page)
    name = page.locator("#argosy-workflows .argosy-filter-name")
    filtered = page.evaluate(UNTIL_STATUS, [f"1 of {TOTAL + 1} workflows", """
        const box = document.querySelector('#argosy-workflows .argosy-filter-name');
        box.value = 'wf-09999';
        box.dispatchEvent(new Event('input', {bubbles: true}));"""])
    expect(page.locator('#argosy-workflows .argosy-row[data-name="wf-09999"]')).to_be_visible()
    filter_task = longest_task(page)
    name.fill("")
    expect(page.locator("#argosy-workflows .argosy-status")).to_have_text(
        f"{TOTAL + 1} of {TOTAL + 1} workflows")
    # The oldest is the last row: scrolled to, drawn and opened.
    scrolled = page.evaluate("""() => new Promise(done => {
        const box = document.querySelector('#argosy-workflows .argosy-list');
        const t0 = performance.now();
        box.scrollTop = box.scrollHeight;
        const check = () => document.querySelector(
            '#argosy-workflows .argosy-row[data-name="wf-00000"]')
            ? done(performance.now() - t0) : requestAnimationFrame(check);
        check();
    })""")
    view = open_workflow(page, "wf-00000")
    expect(view.locator('.argosy-node[data-display-name="main"]')).to_be_visible()
    with capsys.disabled():
        print(f"\npanel performance: {TOTAL:,} workflows listed {listed / 1000:.2f} s after "
              f"their events arrived at once (longest main-thread task {listing_task:.0f} ms);"
              f" one more listed in {one_more:.0f} ms (longest task {event_task:.0f} ms);"
              f" filtered by name to one in {filtered:.0f} ms (longest task"
              f" {filter_task:.0f} ms); scrolled to the oldest in {scrolled:.0f} ms")
