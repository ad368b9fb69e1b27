"""`argosy run`, `argosy lint` and `argosy plugins` through the real command."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from rich.cells import cell_len

from tests.conftest import CliResult

HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: hello-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: who, value: world}]}
  templates:
  - name: main
    inputs: {parameters: [{name: who}]}
    container: {image: busybox, command: [echo, "hello {{inputs.parameters.who}}"]}
"""

FAILING = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: failing-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox, command: [sh, -c, "echo oops >&2; exit 3"]}
"""

BROKEN = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: broken-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: nope}
      - {name: b, template: main, depends: "a && x"}
"""


def write(tmp_path: Path, text: str, name: str = "wf.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_run_succeeds_with_exit_zero_and_json_output(cli, tmp_path: Path) -> None:
    result: CliResult = cli("run", write(tmp_path, HELLO), "-o", "json")
    assert result.code == 0, result.stderr
    wf = result.json()
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["outputs"]["result"] == "hello world"
    assert root["type"] == "Pod"


def test_parameters_entrypoint_and_yaml_output(cli, tmp_path: Path) -> None:
    result = cli("run", write(tmp_path, HELLO), "-p", "who=argosy", "-o", "yaml")
    assert result.code == 0, result.stderr
    wf = yaml.safe_load(result.stdout)
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["outputs"]["result"] == "hello argosy"
    bad = cli("run", write(tmp_path, HELLO), "--entrypoint", "missing")
    assert bad.code == 2
    assert 'unknown template "missing"' in bad.stderr


def test_failed_workflow_exits_one_and_log_shows_stderr(cli, tmp_path: Path) -> None:
    result = cli("run", write(tmp_path, FAILING), "-o", "name", "--log")
    assert result.code == 1
    assert result.stdout.startswith("failing-")
    assert "oops" in result.stderr  # with -o, logs go to stderr
    plain = cli("run", write(tmp_path, FAILING))
    assert plain.code == 1
    assert "Failed" in plain.stderr


def test_faults_of_an_override_name_its_flag(cli, tmp_path: Path) -> None:
    """What --entrypoint or --name set is not in the file: the fault names the flag."""
    wf = write(tmp_path, HELLO)
    bad = cli("run", wf, "--entrypoint", "nope")
    assert (bad.code, bad.stderr) == (2, '--entrypoint: unknown template "nope"\n')
    bad = cli("submit", wf, "--name", "Bad_Name")
    assert bad.code == 2
    assert bad.stderr.startswith('--name: invalid workflow name "Bad_Name": ')
    bad = cli("submit", wf, "--generate-name", "X_")
    assert bad.stderr.startswith('--generate-name: invalid generateName "X_": ')
    # The same fault in the file itself keeps its line.
    in_file = cli("run", write(tmp_path, HELLO.replace("entrypoint: main", "entrypoint: nope")))
    assert in_file.stderr.endswith('wf.yaml:5:3: spec.entrypoint: unknown template "nope"\n')


def test_invalid_workflow_exits_two_and_names_every_fault(cli, tmp_path: Path) -> None:
    result = cli("run", write(tmp_path, BROKEN))
    assert result.code == 2
    assert 'spec.templates[0].dag.tasks[0].template: unknown template "nope"' in result.stderr
    assert "spec.templates[0].dag.tasks[1].depends" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was recorded for a rejected workflow.
    assert json.loads(cli("list", "-o", "json").stdout) == []


def test_yaml_syntax_error_has_line_and_column(cli, tmp_path: Path) -> None:
    result = cli("lint", "-o", "simple", write(tmp_path, "kind: Workflow\nspec: [unclosed\n"))
    assert result.code == 2
    assert "wf.yaml:3:1: YAML syntax error" in result.stdout


def test_lint_reports_all_files(cli, tmp_path: Path) -> None:
    good = write(tmp_path, HELLO, "good.yaml")
    bad = write(tmp_path, BROKEN, "bad.yaml")
    result = cli("lint", "-o", "simple", good, bad)
    assert result.code == 2
    assert "good.yaml" not in result.stdout
    assert result.stdout.count("bad.yaml:") == 2
    assert cli("lint", "-o", "simple", good).stdout == "no linting errors found!\n"


def test_lint_pretty_output_is_argos(cli, tmp_path: Path) -> None:
    """Argo's default format: a heading per file with faults, its faults under it, a summary."""
    good = write(tmp_path, HELLO, "good.yaml")
    bad = write(tmp_path, BROKEN, "bad.yaml")
    result = cli("lint", good, bad)
    assert result.code == 2
    assert result.stdout == (
        f"{bad}:\n"
        '   ✖ 10:19: spec.templates[0].dag.tasks[0].template: unknown template "nope"\n'
        '   ✖ 11:35: spec.templates[0].dag.tasks[1].depends: unknown task "x"\n'
        "\n"
        "✖ 2 linting errors found!\n")
    assert cli("lint", good).stdout == "✔ no linting errors found!\n"


def test_lint_walks_directories(cli, tmp_path: Path) -> None:
    """As argo lint: a directory means its *.yaml, *.yml and *.json files, recursively."""
    (tmp_path / "wfs" / "deeper").mkdir(parents=True)
    write(tmp_path / "wfs", HELLO, "good.yml")
    write(tmp_path / "wfs" / "deeper", BROKEN, "bad.yaml")
    write(tmp_path / "wfs", json.dumps(yaml.safe_load(BROKEN)), "bad.json")
    write(tmp_path / "wfs", "not a manifest", "notes.txt")
    result = cli("lint", "-o", "simple", str(tmp_path / "wfs"))
    assert result.code == 2, result.stdout
    files = [line.split(":", 1)[0] for line in result.stdout.splitlines()]
    assert files == [str(tmp_path / "wfs" / "bad.json")] * 2 + [
        str(tmp_path / "wfs" / "deeper" / "bad.yaml")] * 2
    (tmp_path / "none").mkdir()
    result = cli("lint", "-o", "simple", str(tmp_path / "none"))
    assert result.code == 2
    assert result.stdout == (f"{tmp_path / 'none'}: no manifests (*.yaml, *.yml, *.json) in "
                             "this directory\n")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n---\n"])
def test_an_empty_manifest_is_a_fault_named_with_its_file(cli, tmp_path: Path,
                                                          text: str) -> None:
    empty = write(tmp_path, text, "empty.yaml")
    lint = cli("lint", "-o", "simple", empty)
    assert (lint.code, lint.stdout) == (
        2, f"{empty}: no manifest in it: the file is empty or holds only comments\n")
    for verb in ("run", "submit"):
        result = cli(verb, empty)
        assert result.code == 2
        assert result.stderr == f"{empty}: no manifest in it: the file is empty or holds " \
                                "only comments\n"
    piped = cli("run", "-", stdin=text)
    assert piped.code == 2
    assert "no manifest" in piped.stderr


def test_version_in_argos_shape(cli) -> None:
    """argo version: "argo: vX" then indented build lines; --short only the first line."""
    from argosy import __version__

    result = cli("version")
    assert result.code == 0
    assert result.stdout == (f"argosy: v{__version__}\n"
                             f"  PythonVersion: {platform.python_version()}\n"
                             f"  Implementation: {platform.python_implementation()}\n"
                             f"  Platform: {sys.platform}/{platform.machine()}\n")
    assert cli("version", "--short").stdout == f"argosy: v{__version__}\n"


def test_plugins_lists_the_built_in_types(cli) -> None:
    result = cli("plugins")
    assert result.code == 0
    for key in ("container", "script", "suspend", "steps", "dag", "local"):
        assert key in result.stdout


ANSI = re.compile(r"\x1b\[[0-9;]*m")
AT_80 = {"COLUMNS": "80", "LINES": "40", "FORCE_COLOR": "1"}  # a terminal 80 columns wide


def on_terminal(result: CliResult) -> list[str]:
    return ANSI.sub("", result.stdout).splitlines()


def test_plugins_fits_80_columns(cli) -> None:
    """Module names elided to "argosy.plugins.…" tell nothing: at 80 columns MODULE goes."""
    lines = on_terminal(cli("plugins", env=AT_80))
    assert max(cell_len(line) for line in lines) <= 80
    assert lines[0].split() == ["PLUGIN", "DISTRIBUTION", "PROVIDES", "HOOKS", "STATUS"]
    assert lines[-1] == "(not shown at 80 columns: MODULE)"
    assert "…" not in "\n".join(lines)
    wide = on_terminal(cli("plugins", env=dict(AT_80, COLUMNS="120")))
    assert wide[0].split()[:2] == ["PLUGIN", "MODULE"]


def test_get_wide_fits_80_columns(cli, tmp_path: Path) -> None:
    result = cli("run", write(tmp_path, HELLO), "-o", "name")
    lines = on_terminal(cli("get", result.stdout.strip(), "-o", "wide", env=AT_80))
    assert max(cell_len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("STEP"))
    assert header.split() == ["STEP", "TEMPLATE", "DURATION", "INPUTS", "OUTPUTS", "MESSAGE"]
    assert lines[-1] == "(not shown at 80 columns: PODNAME, EXITCODE, ARTIFACTS)"


def sleeping(seconds: str) -> list[int]:
    """Host pids of ``sleep <seconds>`` processes."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if entry.isdigit() and Path(f"/proc/{entry}/cmdline").read_bytes() == (
                    f"sleep\0{seconds}\0".encode()):
                found.append(int(entry))
    return found


def test_ctrl_c_stops_the_workflow_and_kills_its_processes(tmp_path: Path) -> None:
    # The step says it started in a file on the host (ARGOSY_SANDBOX=tmp: no layer over the
    # host's files), and is found by its command line: its pid is its own namespace's.
    marker = Path("/var/tmp") / f"argosy-ctrlc-{os.getpid()}"
    seconds = f"60.{uuid.uuid4().int % 10**9}"
    wf = HELLO.replace('[echo, "hello {{inputs.parameters.who}}"]',
                       f'[sh, -c, "echo up > {marker}; exec sleep {seconds}"]')
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "argosy.cli", "run", write(tmp_path, wf),
                             "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, ARGOSY_HOME=str(home), ARGOSY_SANDBOX="tmp"),
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() or not sleeping(seconds):
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.1)
        pid = sleeping(seconds)[0]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 1, err
        wf_out = json.loads(out)
        assert wf_out["status"]["phase"] == "Failed"
        # As `argosy stop`: the running node says why, the workflow how.
        assert wf_out["status"]["message"] == "Stopped with strategy 'Stop'"
        pod = next(iter(wf_out["status"]["nodes"].values()))
        assert pod["message"] == "Stopped: interrupted"
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, "the step's process survived Ctrl-C"
            time.sleep(0.1)
    finally:
        proc.kill()
        marker.unlink(missing_ok=True)
