"""A real ``jupyter lab`` with argosy's extensions, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("ARGOSY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
TOKEN = "argosy-ui-test"
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer:\n{log.read_text()[-4000:]}")


def wait_restored(page: Any) -> None:
    """Waits until JupyterLab has restored its saved layout (tabs, sidebars): the dock panel shows
    before that, and a click on a sidebar tab before it can be undone by the restore."""
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")


@dataclass
class Lab:
    url: str
    root: Path
    home: Path
    log: Path
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)")
    base = tmp_path
    root, home, cfg = base / "root", base / "home", base / "jupyter-config"
    for d in (root, home, cfg):
        d.mkdir()
    shutil.copy(REPO / "examples" / "hello-world.yaml", root / "hello-world.yaml")
    (root / "approval.yaml").write_text(APPROVAL)
    # The notebook pipeline, its notebooks where its default `notebooks` parameter points.
    shutil.copy(REPO / "examples" / "notebook-pipeline.yaml", root / "notebook-pipeline.yaml")
    shutil.copytree(REPO / "examples" / "notebooks" / "steps",
                    root / "examples" / "notebooks" / "steps")
    # No "get notified about news?" toast over the screenshots.
    (cfg / "labconfig").mkdir()
    (cfg / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    port = _free_port()
    log = base / "lab.log"
    env = dict(os.environ, ARGOSY_HOME=str(home), JUPYTER_CONFIG_DIR=str(cfg))
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "jupyter"), "lab", "--allow-root", "--no-browser",
           f"--ServerApp.token={TOKEN}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
           "--expose-app-in-browser"]  # window.jupyterapp, to wait for its restore
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(f"{url}/api/status?token={TOKEN}", proc, log)
        yield Lab(url, root, home, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def _lab_page(lab: Lab, init_script: Path | None = None,
              viewport: tuple[int, int] = (1400, 900)) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        if init_script is not None:
            context.add_init_script(path=str(init_script))
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.on("console", lambda m: lab.console_errors.append(m.text) if m.type == "error"
              else None)
        pg.on("pageerror", lambda e: lab.console_errors.append(str(e)))
        pg.goto(f"{lab.url}/lab?token={TOKEN}")
        wait_restored(pg)
        pg.wait_for_selector(".jp-DirListing-item", timeout=60_000)
        yield pg
        browser.close()


@pytest.fixture
def page(lab: Lab):  # type: ignore[no-untyped-def]
    with _lab_page(lab) as pg:
        yield pg


@pytest.fixture
def fake_page(lab: Lab):  # type: ignore[no-untyped-def]
    """The panel against fake_api.js instead of the server: the test sends every event."""
    with _lab_page(lab, Path(__file__).with_name("fake_api.js")) as pg:
        yield pg


# A long first step (to suspend the workflow during it), then a suspend step (approval).
APPROVAL = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: approval-
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: work
            template: nap
        - - name: approve
            template: approve
        - - name: release
            template: say
    - name: nap
      container:
        image: busybox
        command: [sh, -c]
        args: ["echo working; sleep 6; echo worked"]
    - name: approve
      suspend: {}
    - name: say
      container:
        image: busybox
        command: [echo]
        args: ["released"]
"""
