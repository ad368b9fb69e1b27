"""The install alone ships the prebuilt JupyterLab panel where JupyterLab looks for it.

``pip install -e .`` (and every wheel) builds labextension/ with a Node.js from a wheel; no
other step, and no system Node.js, is needed for ``jupyter lab`` to have the panel.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_path

SOURCE = Path(__file__).resolve().parents[2] / "labextension" / "package.json"
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
