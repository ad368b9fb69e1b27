"""Hostile workflows, each run with the real CLI as root and as nobody, always inside a
throwaway PID namespace (``unshare --pid --fork --mount-proc``): a regression can then kill
or litter only that namespace, never the machine running the tests.

What each case shows is what a container would give the step: it writes only its own files,
signals only its own processes, leaves nothing running, cannot flood the engine or the store,
and sees nothing of argosy's (the store, tokens, its environment)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from argosy.plugins import local
from tests.conftest import REPO
from tests.nonroot.test_as_nobody import as_nobody

INSIDE = Path(__file__).with_name("inside.py")
TOKEN = "argosy-hostile-token-" + uuid.uuid4().hex  # must never reach a step

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare --pid"),
    pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("setpriv")),
                       reason="needs unshare and setpriv"),
]


def workflow(tasks: dict[str, str]) -> str:
    """A DAG running each shell script of ``tasks`` at the same time, as its own task."""
    dag = "".join(f"        - {{name: {name}, template: {name}}}\n" for name in tasks)
    templates = "".join(
        f"  - name: {name}\n    container:\n      image: alpine\n      command: [sh, -c]\n"
        f"      args:\n      - |\n{textwrap.indent(script, ' ' * 8)}\n"
        for name, script in tasks.items())
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n"
            f"  generateName: hostile-\nspec:\n  entrypoint: main\n  arguments:\n"
            f"    parameters: [{{name: marker}}, {{name: home}}]\n  templates:\n"
            f"  - name: main\n    dag:\n      tasks:\n{dag}{templates}")


def results(report: dict[str, Any]) -> dict[str, str]:
    """Each task's ``outputs.result``, by its name."""
    nodes = json.loads(report["stdout"])["status"]["nodes"].values()
    return {n["displayName"]: n.get("outputs", {}).get("result") for n in nodes
            if n["type"] == "Pod"}


def check_writes(report: dict[str, Any], marker: str) -> None:
    assert results(report) == {"write": "mine"}
    landed = [p for p in (Path(f"/argosy-hostile-{marker}"), Path(f"/etc/argosy-hostile-{marker}"))
              if p.exists()]
    for path in landed:  # a regression's litter, cleared before it is reported
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert landed == []


def check_kill_all(report: dict[str, Any], marker: str) -> None:
    # The engine, the fork server and the other node survive; the killer too (kill spares
    # its caller), and the workflow ends as if nothing had happened.
    assert results(report) == {"killer": "survived", "bystander": "alive"}


def check_leftovers(report: dict[str, Any], marker: str) -> None:
    assert results(report) == {"daemons": "started"}
    assert report["leftovers"] == []


def check_flood(report: dict[str, Any], marker: str) -> None:
    # 200 MB printed: the store keeps a bounded log, the result is Argo's last 256 kB.
    result = results(report)["flood"]
    assert len(result) <= 256 << 10 and set(result) == {"a", "\n"}
    assert report["store_bytes"] < 32 << 20


def check_store_hidden(report: dict[str, Any], marker: str) -> None:
    assert results(report) == {"snoop": "nothing"}


def check_fork_bomb(report: dict[str, Any], marker: str) -> None:
    # The bomb stops at the node's bound; another node still starts processes meanwhile.
    result = results(report)
    assert result["bystander"] == "alive"
    word, count = result["bomb"].split()
    assert word == "contained" and int(count) <= PIDS_LIMIT


def check_env(report: dict[str, Any], marker: str) -> None:
    dump = results(report)["env"]
    assert "ARGOSY_" not in dump and TOKEN not in dump
    assert "PATH=" in dump


CASES: dict[str, tuple[dict[str, str], Callable[[dict[str, Any], str], None]]] = {
    "writes-outside-tmp": ({"write": """\
        m={{workflow.parameters.marker}}
        mkdir -p /argosy-hostile-$m/deep && echo mine > /argosy-hostile-$m/deep/f
        echo x > /etc/argosy-hostile-$m
        cat /argosy-hostile-$m/deep/f"""}, check_writes),
    "kill-9-minus-1": ({"killer": "sleep 1; kill -9 -1; echo survived",
                        "bystander": "sleep 4; echo alive"}, check_kill_all),
    "leftovers": ({"daemons": """\
        sleep 600 &
        setsid sleep 600 >/dev/null 2>&1 &
        nohup sleep 600 >/dev/null 2>&1 &
        setsid -f sleep 600 >/dev/null 2>&1
        echo started"""}, check_leftovers),
    "200mb-output": ({"flood": "yes aaaaaaa | head -c 200000000"}, check_flood),
    "reads-the-store": ({"snoop": """\
        h={{workflow.parameters.home}}
        cat $h/argosy.db $h/tokens.json 2>/dev/null | head -c 100
        ls -A $h 2>/dev/null | grep -q . || echo nothing"""}, check_store_hidden),
    "env-dump": ({"env": "env"}, check_env),
    # Builtins only once the bomb runs (it leaves no pid to fork with): wait, the /proc glob.
    "fork-bomb": ({"bomb": """\
        sleep 3 & s=$!
        b() { b | b & }
        b &
        wait $s
        set -- /proc/[0-9]*
        kill -9 -1
        echo contained $#""", "bystander": "sleep 1.5; sh -c 'echo alive'"},
                  check_fork_bomb),
}
PIDS_LIMIT = 400  # a node's; near the least the kernel takes (301), to keep the bomb cheap
# Should argosy's bound fail, the bomb stops at the throwaway namespace's (inside.py).
SAFETY_PID_MAX = 2048


def run_case(tmp_path: Path, tasks: dict[str, str], user: str, scratch: Path
             ) -> tuple[dict[str, Any], str]:
    marker = uuid.uuid4().hex
    home = (scratch if user == "nobody" else tmp_path) / "home"
    report = run_inside(workflow(tasks), user, tmp_path, scratch, "-p", f"marker={marker}",
                        "-p", f"home={home}")
    assert report["rc"] == 0, report["stderr"]
    return report, marker


def run_inside(manifest: str, user: str, tmp_path: Path, scratch: Path, *params: str
               ) -> dict[str, Any]:
    """``argosy run`` of ``manifest`` as ``user`` in a throwaway PID namespace: inside.py's
    report (its ``rc`` is the CLI's)."""
    where = scratch if user == "nobody" else tmp_path
    home = where / "home"
    wf = where / "wf.yaml"
    wf.write_text(manifest)
    args = [str(INSIDE), str(wf), *params]
    env = {"ARGOSY_TOKEN": TOKEN, "ARGOSY_PIDS_LIMIT": str(PIDS_LIMIT)}
    if local._fork_server.pids_bounded():  # else pid_max is the machine's: never written
        env["ARGOSY_TEST_PID_MAX"] = str(SAFETY_PID_MAX)
    if user == "nobody":
        os.chown(wf, 65534, 65534)
        proc = as_nobody(scratch, sys.executable, *args, env=env)
    else:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "ARGOSY_"))}
        proc = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, *args], cwd=REPO,
            env={**clean, "ARGOSY_HOME": str(home), **env}, capture_output=True, text=True,
            timeout=540)
    assert proc.returncode == 0 and proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("user", ["root", "nobody"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_workflow(case: str, user: str, tmp_path: Path, scratch: Path) -> None:
    if case == "fork-bomb" and not local._fork_server.pids_bounded():
        pytest.skip("this kernel gives a PID namespace no pid_max of its own: argosy cannot "
                    "bound a node's processes, and a fork bomb would reach the machine")
    tasks, check = CASES[case]
    report, marker = run_case(tmp_path, tasks, user, scratch)
    check(report, marker)
