"""The plugin author's documents say what the code does: the hook reference is generated from
the code, and the guide's example plugin runs as written."""

from __future__ import annotations

import re
import subprocess
import sys

from argosy.hookspecs import reference
from tests.conftest import REPO

GUIDE = REPO / "docs" / "how-to" / "write-a-plugin.md"


def test_the_hook_reference_is_current() -> None:
    current = (REPO / "docs" / "plugins" / "hooks.md").read_text()
    assert current == reference(), (
        "docs/plugins/hooks.md is stale: python -m argosy.hookspecs > docs/plugins/hooks.md")


def test_the_stable_api_is_exported_and_documented() -> None:
    import argosy.plugin as api

    assert sorted(api.__all__) == sorted(api.STABLE)
    for name in api.__all__:
        getattr(api, name)  # each resolves, the engine's classes included


def guide_files() -> dict[str, str]:
    """The guide's code blocks whose first line names a file (``# my_plugin.py``)."""
    blocks = re.findall(r"```(?:python|yaml)\n(.*?)```", GUIDE.read_text(), re.S)
    return {m.group(1): block for block in blocks
            if (m := re.match(r"# (\S+\.(?:py|yaml))\n", block))}


def test_the_guide_example_plugin_runs_as_written(tmp_path) -> None:
    files = guide_files()
    assert set(files) >= {"my_plugin.py", "workflow.yaml", "test_my_plugin.py"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "test_my_plugin.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
