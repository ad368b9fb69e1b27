"""Argo's CLI verbs through the real ``argosy`` command, against a store in a temp ARGOSY_HOME.

``submit`` starts a background engine; each test ends with no engine left running (the
engine exits when idle, and teardown terminates what a test left active).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.store import Store

HELLO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  labels: {team: blue}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: msg, value: hi}]
  templates:
  - name: main
    steps:
    - - name: one
        template: say
        arguments: {parameters: [{name: m, value: "{{workflow.parameters.msg}}"}]}
    - - name: two
        template: say
        arguments: {parameters: [{name: m, value: second}]}
  - name: say
    inputs: {parameters: [{name: m}]}
    script:
      image: alpine
      command: [sh]
      source: |
        echo "first {{inputs.parameters.m}}"
        echo "last {{inputs.parameters.m}}"
"""

FAILING = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: broken-
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "echo oops; exit 3"]}
"""

# Two suspend steps side by side, then a step using the value supplied to one of them.
APPROVAL = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: approval
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: approve-a
        template: gate
      - name: approve-b
        template: gate
    - - name: use
        template: echo
        arguments:
          parameters: [{name: m, value: "{{steps.approve-b.outputs.parameters.answer}}"}]
  - name: gate
    suspend: {}
    outputs:
      parameters:
      - name: answer
        valueFrom: {supplied: {}}
  - name: echo
    inputs: {parameters: [{name: m}]}
    container: {image: alpine, command: [echo, "got {{inputs.parameters.m}}"]}
"""

# A short step, then one that only ends when stopped; the exit handler says so in its log.
LONG_WITH_EXIT = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: long-
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - name: first
        template: quick
    - - name: long
        template: sleep
  - name: quick
    container: {image: alpine, command: [echo, quick]}
  - name: sleep
    container: {image: alpine, command: [sleep, "60"]}
  - name: bye
    container: {image: alpine, command: [echo, exit handler ran]}
"""

# Counts its runs in files under {{workflow.parameters.dir}}; `flaky` fails while fail=yes.
COUNTING = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: counting-
spec:
  entrypoint: main
  arguments:
    parameters: [{name: dir}, {name: fail, value: "yes"}]
  templates:
  - name: main
    steps:
    - - name: good
        template: good
    - - name: flaky
        template: flaky
  - name: good
    script:
      image: alpine
      command: [sh]
      source: echo run >> {{workflow.parameters.dir}}/good
  - name: flaky
    script:
      image: alpine
      command: [sh]
      source: |
        echo run >> {{workflow.parameters.dir}}/flaky
        test "{{workflow.parameters.fail}}" != yes
"""

# Prints over a second, so a follower sees lines while the step still runs.
TICKING = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: ticking-
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: talk
        template: talk
  - name: talk
    script:
      image: alpine
      command: [sh]
      source: |
        for i in 1 2 3 4; do echo "tick $i"; sleep 0.3; done
        echo "done ticking" >&2
"""

# Holds until a file appears, then another step: suspended meanwhile, `next` must not start.
TWO_STEPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: two-
spec:
  entrypoint: main
  arguments:
    parameters: [{name: dir}]
  templates:
  - name: main
    steps:
    - - name: hold
        template: hold
    - - name: next
        template: quick
  - name: hold
    script:
      image: alpine
      command: [sh]
      source: while [ ! -e {{workflow.parameters.dir}}/go ]; do sleep 0.1; done
  - name: quick
    container: {image: alpine, command: [echo, next]}
"""

NOT_FOUND = 'workflows.argoproj.io "nope" not found'
WAIT_LINE = re.compile(r"^(\S+) (\w+) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$")
TIMEOUT = 30.0

Cli = Callable[..., Any]


@pytest.fixture(autouse=True)
def engines(argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Background engines exit one second after their last workflow; none outlives a test."""
    monkeypatch.setenv("ARGOSY_ENGINE_IDLE_SECONDS", "1")
    yield
    if not (argosy_home / "argosy.db").exists():
        return
    store = Store(argosy_home)
    for rec in store.active():
        store.add_action(rec.uid, "terminate")
    deadline = time.monotonic() + 15
    pids: list[int] = []
    while time.monotonic() < deadline:
        pids = [pid for (pid,) in store.db.execute("SELECT pid FROM engines")]
        if not pids:
            break
        time.sleep(0.2)
    for pid in pids:  # engines this test started, by their ids
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    store.close()


@pytest.fixture
def shared_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory outside /tmp that steps write on the host: each node sees a private /tmp,
    and (with ARGOSY_SANDBOX=tmp) no layer of its own over the rest."""
    monkeypatch.setenv("ARGOSY_SANDBOX", "tmp")
    path = Path(tempfile.mkdtemp(prefix="argosy-cli-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write(tmp_path: Path, text: str, name: str = "wf.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def workflow(cli: Cli, name: str) -> dict[str, Any]:
    result = cli("get", name, "-o", "json")
    assert result.code == 0, result.stderr
    return result.json()  # type: ignore[no-any-return]


def nodes_by_name(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"].get("nodes", {}).values()}


def poll(cli: Cli, name: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        wf = workflow(cli, name)
        if ready(wf):
            return wf
        assert time.monotonic() < deadline, f"timed out; last status {wf['status']}"
        time.sleep(0.2)


def node_phase(display_name: str, phase: str) -> Callable[[dict[str, Any]], bool]:
    return lambda wf: nodes_by_name(wf).get(display_name, {}).get("phase") == phase


def submit(cli: Cli, path: str, *args: str) -> str:
    """Submit; with ``--wait`` the exit code is the workflow's (1 if it failed)."""
    result = cli("submit", path, "-o", "name", *args)
    assert result.code in ((0, 1) if "--wait" in args else (0,)), result.stderr
    return str(result.stdout.strip())


def submit_and_wait(cli: Cli, path: str, *args: str) -> str:
    return submit(cli, path, "--wait", *args)


# ---- submit, wait, get ---------------------------------------------------------------------------

def test_submit_wait_prints_the_phase_and_exits_zero(cli: Cli, tmp_path: Path) -> None:
    result = cli("submit", write(tmp_path, HELLO), "--wait")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Name:", lines[0].split()[1]]
    name = lines[0].split()[1]
    assert name.startswith("hello-") and len(name) == len("hello-") + 5
    assert "Status:              Pending" in lines
    m = WAIT_LINE.match(lines[-1])
    assert m and m.groups() == (name, "Succeeded")
    wf = workflow(cli, name)
    assert wf["status"]["phase"] == "Succeeded"
    assert sorted(n["outputs"]["result"] for n in wf["status"]["nodes"].values()
                  if n["type"] == "Pod") == ["first hi\nlast hi", "first second\nlast second"]


def test_submits_on_an_idle_store_start_one_engine(cli: Cli, tmp_path: Path,
                                                   argosy_home: Path) -> None:
    """``submit --wait`` checks for an engine twice (submit, then wait), and several may run
    at once: the first to find none starts it, and it counts as there from its spawn."""
    import subprocess
    import sys

    hello = write(tmp_path, HELLO)
    procs = [subprocess.Popen([sys.executable, "-m", "argosy.cli", "submit", hello, "--wait"],
                              env=dict(os.environ, ARGOSY_HOME=str(argosy_home)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    started = [line for line in (argosy_home / "engine.log").read_text().splitlines()
               if " argosy engine " in line]
    assert len(started) == 1, started


def test_an_idle_engine_retires_unless_a_workflow_came_meanwhile(argosy_home: Path) -> None:
    import asyncio

    from argosy.api.service import submit as record
    from argosy.engine.run import Engine
    from argosy.store import EngineLock

    store = Store(argosy_home)
    lock = EngineLock(argosy_home)
    assert lock.acquire()
    engine = Engine(store, serving=True)
    wf = yaml.safe_load(HELLO)

    async def retire() -> bool:
        engine._start_heartbeat()
        record(store, wf)  # submitted as the engine decided it was idle
        keeps = not engine._retire(lock)
        assert EngineLock(argosy_home).holder() == os.getpid()
        assert store.serving_engines(within=60) == 1
        store.db.execute("UPDATE workflows SET phase = 'Succeeded'")
        return keeps and engine._retire(lock)

    assert asyncio.run(retire())
    assert store.serving_engines(within=60) == 0
    assert EngineLock(argosy_home).acquire()  # released


def test_submit_wait_of_a_failing_workflow_exits_one(cli: Cli, tmp_path: Path) -> None:
    result = cli("submit", write(tmp_path, FAILING), "--wait")
    assert result.code == 1
    m = WAIT_LINE.match(result.stdout.splitlines()[-1])
    assert m and m.group(2) == "Failed"
    # -o name makes --wait quiet, as in argo: only the name is printed.
    quiet = cli("submit", write(tmp_path, FAILING), "--wait", "-o", "name")
    assert quiet.code == 1
    assert re.fullmatch(r"broken-[a-z0-9]{5}\n", quiet.stdout)


def test_submit_overrides(cli: Cli, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("msg: from-file\n")
    name = submit(cli, write(tmp_path, HELLO), "--name", "custom", "-l", "a=1,b=2",
                  "-f", str(params), "--wait")
    assert name == "custom"
    wf = workflow(cli, "custom")
    assert wf["metadata"]["labels"] == {"team": "blue", "a": "1", "b": "2"}
    assert wf["spec"]["arguments"]["parameters"] == [{"name": "msg", "value": "from-file"}]
    assert nodes_by_name(wf)["one"]["outputs"]["result"] == "first from-file\nlast from-file"
    # -p wins over the parameter file; --generate-name and --entrypoint apply.
    other = submit(cli, write(tmp_path, HELLO), "--generate-name", "gen-", "-f", str(params),
                   "-p", "msg=cli", "--entrypoint", "say", "-p", "m=direct", "--wait")
    assert other.startswith("gen-")
    wf = workflow(cli, other)
    assert wf["spec"]["entrypoint"] == "say"
    assert wf["status"]["phase"] == "Succeeded"
    taken = cli("submit", write(tmp_path, HELLO), "--name", "custom")
    assert taken.code == 2
    assert 'workflows.argoproj.io "custom" already exists' in taken.stderr


def test_submit_rejects_bad_input_without_a_traceback(cli: Cli, tmp_path: Path) -> None:
    missing = cli("submit", str(tmp_path / "absent.yaml"))
    assert missing.code == 2 and "absent.yaml: no such file" in missing.stderr
    bad = cli("submit", write(tmp_path, HELLO.replace("template: say", "template: nah", 1)))
    assert bad.code == 2
    assert "nah" in bad.stderr and "Traceback" not in bad.stderr
    both = cli("submit", write(tmp_path, HELLO), "--wait", "--watch")
    assert both.code == 2 and "--wait cannot be combined with --watch" in both.stderr
    assert cli("list").stdout == "No workflows found\n"


def test_get_output_formats(cli: Cli, tmp_path: Path) -> None:
    name = submit_and_wait(cli, write(tmp_path, HELLO))
    as_json = workflow(cli, name)
    assert as_json["metadata"]["name"] == name
    as_yaml = yaml.safe_load(cli("get", name, "-o", "yaml").stdout)
    assert as_yaml == as_json
    assert cli("get", name, "-o", "name").stdout == f"{name}\n"
    text = cli("get", name).stdout.splitlines()
    assert text[0] == f"Name:                {name}"
    assert "Status:              Succeeded" in text
    assert "Progress:            2/2" in text
    header = next(line for line in text if line.startswith("STEP"))
    assert header.split() == ["STEP", "TEMPLATE", "PODNAME", "DURATION", "MESSAGE"]
    assert any(re.match(r"^ ├───✔ one +say ", line) for line in text)
    assert any(re.match(r"^ └───✔ two +say ", line) for line in text)
    wide = cli("get", name, "-o", "wide").stdout.splitlines()
    assert next(line for line in wide if line.startswith("STEP")).split() == [
        "STEP", "TEMPLATE", "PODNAME", "DURATION", "INPUTS", "OUTPUTS", "EXITCODE",
        "ARTIFACTS", "MESSAGE"]
    # Several names and @latest, as argo get takes them.
    both = cli("get", name, "@latest", "-o", "name")
    assert both.stdout == f"{name}\n{name}\n"


def test_list_reads_nodes_only_for_what_its_table_shows(argosy_home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain table needs no node of a workflow that is not running (a store of 10,000
    finished ones would have every node read); -o wide's P/R/C needs them."""
    from click.testing import CliRunner

    from argosy.api.service import submit
    from argosy.cli import main

    store = Store(argosy_home)
    name = submit(store, yaml.safe_load(HELLO)).name
    store.close()
    read: list[str] = []
    real = Store.nodes
    monkeypatch.setattr(Store, "nodes", lambda self, uid: read.append(uid) or real(self, uid))
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0 and name in result.output
    assert read == []
    assert CliRunner().invoke(main, ["list", "-o", "wide"]).exit_code == 0
    assert len(read) == 1


def test_get_reads_and_draws_with_the_cycle_collector_paused(
        argosy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100,000-node workflow is millions of objects, none in a cycle: the collector's passes
    through all of them took most of `argosy get`'s time, more with each node."""
    import gc

    from click.testing import CliRunner

    import argosy.cli.commands as commands
    from argosy.api.service import submit
    from argosy.cli import main

    store = Store(argosy_home)
    name = submit(store, yaml.safe_load(HELLO)).name
    store.close()
    collecting: list[bool] = []
    real = commands.print_workflow
    monkeypatch.setattr(commands, "print_workflow",
                        lambda *args: collecting.append(gc.isenabled()) or real(*args))
    result = CliRunner().invoke(main, ["get", name])
    assert result.exit_code == 0 and name in result.output
    assert collecting == [False] and gc.isenabled()


LOOP = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: loop-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: s, template: pause, withSequence: {count: "30"}}]]
  - name: pause
    suspend: {duration: "0"}
"""


def test_get_collapses_a_big_loop_unless_expand(cli: Cli, tmp_path: Path) -> None:
    name = submit_and_wait(cli, write(tmp_path, LOOP))
    text = cli("get", name).stdout
    assert "s(0:0)" not in text and "30 more (30 Succeeded); --expand shows them" in text
    expanded = cli("get", name, "--expand").stdout
    assert all(f"s({i}:{i})" in expanded for i in range(30)) and "more (" not in expanded


# ---- list ---------------------------------------------------------------------------------------

def test_list_table_and_filters(cli: Cli, tmp_path: Path) -> None:
    good = submit_and_wait(cli, write(tmp_path, HELLO))
    bad = submit_and_wait(cli, write(tmp_path, FAILING, "bad.yaml"))
    lines = cli("list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    assert lines[0].index("STATUS") == len(bad) + 3  # tabwriter: widest name plus 3
    rows = [line.split()[:2] for line in lines[1:]]
    assert rows == [[bad, "Failed"], [good, "Succeeded"]]  # newest first

    def names(*args: str) -> list[str]:
        result = cli("list", "-o", "name", *args)
        assert result.code == 0, result.stderr
        return [] if result.stdout == "No workflows found\n" else result.stdout.split()

    assert names("--status", "Failed") == [bad]
    assert names("--status", "Succeeded,Failed") == [bad, good]
    assert names("--completed") == [bad, good]
    assert cli("list", "--running").stdout == "No workflows found\n"
    assert names("--prefix", "hello-") == [good]
    assert names("-l", "team=blue") == [good]
    assert names("-l", "team!=blue") == [bad]
    assert names("--since", "1h") == [bad, good]
    assert names("--older", "1h") == []
    assert names("--chunk-size", "1") == [bad, good]
    assert names("-n", "elsewhere") == []
    assert [wf["metadata"]["name"] for wf in json.loads(cli("list", "-o", "json").stdout)] == [
        bad, good]
    assert cli("list", "-o", "json", "--prefix", "zzz").stdout == "[]\n"
    wide = cli("list", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE",
                               "P/R/C", "PARAMETERS"]
    good_row = next(line for line in wide if line.startswith(good))
    assert good_row.split()[-2:] == ["0/0/2", "msg=hi"]
    everywhere = cli("list", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert everywhere[1].split()[:2] == ["default", bad]
    clash = cli("list", "--running", "--completed")
    assert clash.code == 2
    assert "--completed and --running cannot be used together" in clash.stderr
    bad_since = cli("list", "--since", "soon")
    assert bad_since.code == 2 and "invalid duration 'soon'" in bad_since.stderr


# ---- logs ---------------------------------------------------------------------------------------

def test_logs_after_the_workflow_finished(cli: Cli, tmp_path: Path) -> None:
    name = submit_and_wait(cli, write(tmp_path, HELLO))
    wf = workflow(cli, name)
    pods = {n["displayName"]: f"{name}-say-{n['id'].rsplit('-', 1)[1]}"
            for n in wf["status"]["nodes"].values() if n["type"] == "Pod"}
    result = cli("logs", name)
    assert result.code == 0, result.stderr
    # get's PODNAME column names the pods as logs does.
    podnames = [line.split()[3] for line in cli("get", name).stdout.splitlines()
                if re.match(r"^ [├└]───✔ (one|two) ", line)]
    assert podnames == [pods["one"], pods["two"]]
    assert result.stdout.splitlines() == [
        f"{pods['one']}: first hi", f"{pods['one']}: last hi",
        f"{pods['two']}: first second", f"{pods['two']}: last second"]
    assert cli("logs", name, "--grep", "last").stdout.splitlines() == [
        f"{pods['one']}: last hi", f"{pods['two']}: last second"]
    # --tail counts per pod, as kubectl's does.
    assert cli("logs", name, "--tail", "1").stdout.splitlines() == [
        f"{pods['one']}: last hi", f"{pods['two']}: last second"]
    assert cli("logs", name, "--node", "two").stdout.splitlines() == [
        f"{pods['two']}: first second", f"{pods['two']}: last second"]
    assert cli("logs", name, pods["one"], "--tail", "1").stdout.splitlines() == [
        f"{pods['one']}: last hi"]
    stamped = cli("logs", name, "--node", "two", "--timestamps").stdout.splitlines()
    finished = nodes_by_name(wf)["two"]["finishedAt"]
    assert stamped == [f"{pods['two']}: {finished} first second",
                       f"{pods['two']}: {finished} last second"]
    assert len(cli("logs", name, "--since", "1h").stdout.splitlines()) == 4


def assert_filters_name_what_is_missing(cli: Cli, name: str, tmp_path: Path,
                                        env: dict[str, str] | None = None) -> None:
    """logs --node and cp's filters that match nothing say so and exit 1, as argo's do."""
    def fails(*args: str) -> str:
        result = cli(*args, env=env)
        assert (result.code, result.stdout) == (1, ""), result.stderr
        return str(result.stderr)

    out = str(tmp_path / "out")
    assert fails("logs", name, "--node", "nosuch") == \
        f'workflow {name} has no node or pod "nosuch"\n'
    assert fails("logs", name, "nosuch") == f'workflow {name} has no node or pod "nosuch"\n'
    assert fails("cp", name, out, "--artifact-name", "nosuch") == \
        f'workflow {name} has no output artifact "nosuch"\n'
    assert fails("cp", name, out, "--node-id", "nosuch") == \
        f'workflow {name} has no node with id "nosuch"\n'
    assert fails("cp", name, out, "--template-name", "nosuch") == \
        f'workflow {name} has no node of template "nosuch"\n'
    assert fails("cp", name, out, "--template-name", "say", "--artifact-name", "x") == \
        f'workflow {name} has no output artifact "x" in the nodes selected\n'
    assert not Path(out).exists()
    # Without filters there is nothing to say: a workflow without artifacts copies none.
    assert cli("cp", name, out, env=env).code == 0


def test_logs_and_cp_filters_that_match_nothing(cli: Cli, tmp_path: Path) -> None:
    name = submit_and_wait(cli, write(tmp_path, HELLO))
    assert_filters_name_what_is_missing(cli, name, tmp_path)


def test_logs_follow_streams_until_the_workflow_ends(cli: Cli, tmp_path: Path) -> None:
    name = submit(cli, write(tmp_path, TICKING))
    result = cli("logs", name, "-f")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "tick 1", "tick 2", "tick 3", "tick 4", "done ticking"]
    assert len({line.split(": ", 1)[0] for line in lines}) == 1
    assert workflow(cli, name)["status"]["phase"] == "Succeeded"


def test_submit_log_follows_the_new_workflow(cli: Cli, tmp_path: Path) -> None:
    result = cli("submit", write(tmp_path, TICKING), "--log", "-o", "name")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ticking-")
    assert [line.split(": ", 1)[1] for line in lines[1:]] == [
        "tick 1", "tick 2", "tick 3", "tick 4", "done ticking"]


def test_watch_reports_until_finished(cli: Cli, tmp_path: Path) -> None:
    name = submit(cli, write(tmp_path, HELLO))
    result = cli("watch", name)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"Workflow {name} Succeeded in \d+s", lines[-1])
    assert any(re.search(rf" {re.escape(name)}\[1\]\.two \(say\) Succeeded", ln) for ln in lines)


# ---- suspend, resume, node set -------------------------------------------------------------------

def test_suspend_resume_and_node_set_on_suspend_nodes(cli: Cli, tmp_path: Path) -> None:
    name = submit(cli, write(tmp_path, APPROVAL))
    poll(cli, name, lambda wf: node_phase("approve-a", "Running")(wf)
         and node_phase("approve-b", "Running")(wf))
    row = cli("list", "--running").stdout.splitlines()[1]
    assert row.split()[:3] == [name, "Running", "(Suspended)"]

    assert cli("suspend", name).stdout == f"workflow {name} suspended\n"
    poll(cli, name, lambda wf: wf["spec"].get("suspend") is True)

    # Resuming one node leaves the other waiting.
    result = cli("resume", name, "--node-field-selector", "displayName=approve-a")
    assert result.stdout == f"workflow {name} resumed\n"
    wf = poll(cli, name, node_phase("approve-a", "Succeeded"))
    assert nodes_by_name(wf)["approve-b"]["phase"] == "Running"

    result = cli("node", "set", name, "--output-parameter", 'answer="yes please"',
                 "--node-field-selector", "displayName=approve-b")
    assert (result.code, result.stdout) == (0, "workflow values set\n")
    wf = poll(cli, name, lambda wf: nodes_by_name(wf)["approve-b"].get("outputs"))
    assert nodes_by_name(wf)["approve-b"]["outputs"]["parameters"] == [
        {"name": "answer", "value": "yes please"}]
    assert nodes_by_name(wf)["approve-b"]["phase"] == "Running"

    assert cli("resume", name).code == 0
    done = cli("wait", name)
    assert WAIT_LINE.match(done.stdout.strip()).groups() == (name, "Succeeded")  # type: ignore[union-attr]
    used = nodes_by_name(workflow(cli, name))["use"]
    assert used["outputs"]["result"] == "got yes please"


def test_suspend_keeps_new_nodes_from_starting(
        cli: Cli, tmp_path: Path, shared_dir: Path) -> None:
    name = submit(cli, write(tmp_path, TWO_STEPS), "-p", f"dir={shared_dir}")
    poll(cli, name, node_phase("hold", "Running"))
    assert cli("suspend", name).stdout == f"workflow {name} suspended\n"
    poll(cli, name, lambda wf: wf["spec"].get("suspend") is True)  # the engine applied it
    (shared_dir / "go").touch()
    poll(cli, name, node_phase("hold", "Succeeded"))
    time.sleep(1.0)  # time enough for `next` to have started, were it allowed to
    wf = workflow(cli, name)
    assert "next" not in nodes_by_name(wf)
    assert cli("list", "--running").stdout.splitlines()[1].split()[:3] == [
        name, "Running", "(Suspended)"]
    assert cli("resume", name).stdout == f"workflow {name} resumed\n"
    assert cli("wait", name).code == 0
    assert nodes_by_name(workflow(cli, name))["next"]["phase"] == "Succeeded"


def test_steering_a_finished_workflow_is_refused(cli: Cli, tmp_path: Path) -> None:
    name = submit_and_wait(cli, write(tmp_path, HELLO))
    for verb in ("suspend", "resume", "stop", "terminate"):
        result = cli(verb, name)
        assert result.code == 2
        assert result.stderr.strip() == f"cannot {verb} workflow {name}: it is Succeeded"


# ---- stop and terminate --------------------------------------------------------------------------

def test_stop_runs_the_exit_handler_and_terminate_does_not(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, LONG_WITH_EXIT)
    stopped, terminated = submit(cli, path), submit(cli, path)
    for name in (stopped, terminated):
        poll(cli, name, node_phase("long", "Running"))
    assert cli("stop", stopped, "--message", "enough").stdout == f"workflow {stopped} stopped\n"
    assert cli("terminate", terminated).stdout == f"workflow {terminated} terminated\n"
    result = cli("wait", stopped, terminated)
    assert result.code == 1
    assert [WAIT_LINE.match(line).groups() for line in result.stdout.splitlines()] == [  # type: ignore[union-attr]
        (stopped, "Failed"), (terminated, "Failed")]

    def log_lines(name: str) -> list[str]:
        return [line.split(": ", 1)[1] for line in cli("logs", name).stdout.splitlines()]

    assert log_lines(stopped) == ["quick", "exit handler ran"]
    assert log_lines(terminated) == ["quick"]
    assert f"{stopped}.onExit" in {n["name"] for n in
                                   workflow(cli, stopped)["status"]["nodes"].values()}
    assert f"{terminated}.onExit" not in {n["name"] for n in
                                          workflow(cli, terminated)["status"]["nodes"].values()}
    rows = {line.split()[0]: line for line in cli("list").stdout.splitlines()[1:]}
    assert rows[stopped].split()[1:3] == ["Failed", "(Terminated)"]
    assert rows[stopped].endswith("Stopped with strategy 'Stop'")
    assert rows[terminated].endswith("Stopped with strategy 'Terminate'")


# ---- retry and resubmit --------------------------------------------------------------------------

def test_retry_reruns_only_the_failed_node(cli: Cli, tmp_path: Path, shared_dir: Path) -> None:
    path = write(tmp_path, COUNTING)
    name = submit(cli, path, "-p", f"dir={shared_dir}", "--wait")
    assert workflow(cli, name)["status"]["phase"] == "Failed"
    assert (shared_dir / "good").read_text() == "run\n"
    assert (shared_dir / "flaky").read_text() == "run\n"

    result = cli("retry", name, "-p", "fail=no", "--wait", "-o", "name")
    assert (result.code, result.stdout) == (0, f"{name}\n")
    wf = workflow(cli, name)
    assert wf["status"]["phase"] == "Succeeded"
    assert {n["displayName"]: n["phase"] for n in wf["status"]["nodes"].values()
            if n["type"] == "Pod"} == {"good": "Succeeded", "flaky": "Succeeded"}
    assert (shared_dir / "good").read_text() == "run\n"  # kept, not run again
    assert (shared_dir / "flaky").read_text() == "run\nrun\n"

    refused = cli("retry", name)
    assert refused.code == 2
    assert refused.stderr.strip() == (
        "To retry a succeeded workflow, set the options restartSuccessful and nodeFieldSelector")
    # Argo's rule: both options, not either.
    assert cli("retry", name, "--restart-successful").code == 2
    assert cli("retry", name, "--node-field-selector", "displayName=good").code == 2


def test_retry_of_a_succeeded_workflow_restarts_the_selected_nodes(
        cli: Cli, tmp_path: Path, shared_dir: Path) -> None:
    name = submit(cli, write(tmp_path, COUNTING), "-p", f"dir={shared_dir}", "-p", "fail=no",
                  "--wait")
    assert workflow(cli, name)["status"]["phase"] == "Succeeded"
    result = cli("retry", name, "--restart-successful", "--node-field-selector",
                 "displayName=flaky", "--wait")
    assert result.code == 0, result.stderr
    wf = workflow(cli, name)
    assert wf["status"]["phase"] == "Succeeded"
    assert (shared_dir / "good").read_text() == "run\n"  # not selected: kept
    assert (shared_dir / "flaky").read_text() == "run\nrun\n"


def test_retry_restart_successful_with_a_node_field_selector(
        cli: Cli, tmp_path: Path, shared_dir: Path) -> None:
    name = submit(cli, write(tmp_path, COUNTING), "-p", f"dir={shared_dir}", "--wait")
    result = cli("retry", name, "--restart-successful", "--node-field-selector",
                 "displayName=good", "-p", "fail=no", "--wait")
    assert result.code == 0, result.stderr
    assert WAIT_LINE.match(result.stdout.splitlines()[-1]).groups() == (name, "Succeeded")  # type: ignore[union-attr]
    assert (shared_dir / "good").read_text() == "run\nrun\n"
    assert (shared_dir / "flaky").read_text() == "run\nrun\n"


def test_resubmit_creates_a_new_workflow(cli: Cli, tmp_path: Path, shared_dir: Path) -> None:
    name = submit(cli, write(tmp_path, COUNTING), "-p", f"dir={shared_dir}", "--wait")
    result = cli("resubmit", name, "-p", "fail=no", "-o", "name", "--wait")
    assert result.code == 0, result.stderr
    new = result.stdout.strip()
    assert new != name and new.startswith(f"{name}-")
    fresh = workflow(cli, new)
    assert fresh["status"]["phase"] == "Succeeded"
    assert fresh["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == name
    assert workflow(cli, name)["status"]["phase"] == "Failed"  # the original is untouched
    assert (shared_dir / "good").read_text() == "run\nrun\n"
    assert cli("list", "--resubmitted", "-o", "name").stdout == f"{new}\n"


# ---- delete -------------------------------------------------------------------------------------

def test_delete_by_name_and_by_filter(cli: Cli, tmp_path: Path) -> None:
    hello = write(tmp_path, HELLO)
    a, b = submit_and_wait(cli, hello), submit_and_wait(cli, hello)
    failed = submit_and_wait(cli, write(tmp_path, FAILING, "bad.yaml"))
    assert cli("delete").code == 2
    assert cli("delete", a).stdout == f"Workflow '{a}' deleted\n"
    gone = cli("get", a)
    assert gone.code == 1 and gone.stderr.strip() == f'workflows.argoproj.io "{a}" not found'
    assert cli("delete", "--older", "1d").stdout == "No resources found\n"
    assert cli("delete", "--prefix", "broken-", "--dry-run").stdout == (
        f"Workflow '{failed}' deleted (dry-run)\n")
    assert cli("delete", "--status", "Failed").stdout == f"Workflow '{failed}' deleted\n"
    assert cli("delete", "--completed").stdout == f"Workflow '{b}' deleted\n"
    c = submit_and_wait(cli, hello)
    assert cli("delete", "--all").stdout == f"Workflow '{c}' deleted\n"
    assert cli("list").stdout == "No workflows found\n"


# ---- errors -------------------------------------------------------------------------------------

# Every verb naming a workflow, each with a name that does not exist.
MISSING_WORKFLOW_VERBS = [
    ("get", "nope"), ("logs", "nope"), ("logs", "nope", "-f"), ("wait", "nope"),
    ("watch", "nope"), ("suspend", "nope"), ("resume", "nope"), ("stop", "nope"),
    ("terminate", "nope"), ("retry", "nope"), ("resubmit", "nope"), ("cp", "nope", "out"),
    ("node", "set", "nope", "--node-field-selector", "displayName=x", "-p", "a=b"),
]


@pytest.mark.parametrize("args", MISSING_WORKFLOW_VERBS)
def test_unknown_workflow_names_exit_one_as_argo(cli: Cli, args: tuple[str, ...]) -> None:
    """Argo's CLI exits 1 for a workflow that does not exist; 2 stays "rejected"."""
    result = cli(*args)
    assert result.code == 1
    assert result.stderr.strip() == NOT_FOUND
    assert result.stdout == ""


def test_delete_and_wait_of_unknown_names(cli: Cli) -> None:
    result = cli("delete", "nope")
    assert (result.code, result.stderr) == (1, "Workflow 'nope' not found\n")
    assert cli("wait", "nope", "--ignore-not-found").code == 0
    latest = cli("get", "@latest")
    assert (latest.code, latest.stderr) == (1, "no workflows found in namespace 'default'\n")


def test_bad_flags_are_usage_errors(cli: Cli) -> None:
    result = cli("node", "set", "wf", "--node-field-selector", "displayName=x", "-p", "novalue")
    assert result.code == 2 and "expected NAME=VALUE" in result.stderr
    result = cli("get", "wf", "-o", "table")
    assert result.code == 2 and "Traceback" not in result.stderr


def test_server_on_the_kubernetes_store_never_serves_the_local_one(tmp_path: Path) -> None:
    # Asked for a cluster's objects (--store or ARGOSY_STORE), the server serves them or says
    # why not; never the local store in their place. The controller's limits are refused.
    from click.testing import CliRunner

    from argosy.cli import main

    # ARGOSY_EXECUTOR named here is restored after each call: --executor sets it in-process.
    missing = {"KUBECONFIG": str(tmp_path / "none"), "ARGOSY_HOME": str(tmp_path / "home"),
               "ARGOSY_EXECUTOR": os.environ.get("ARGOSY_EXECUTOR")}
    for args, env in ((["server", "--store", "kubernetes"], missing),
                      (["server"], {"ARGOSY_STORE": "kubernetes", **missing})):
        result = CliRunner().invoke(main, [*args, "--port", "0"], env=env)
        assert result.exit_code == 2, result.output
        assert "no Kubernetes cluster configured" in result.output
        assert "argosy server on" not in result.output
        for flag, value in (("--parallelism", "2"), ("--executor", "podman")):
            limited = CliRunner().invoke(main, [*args, flag, value], env=env)
            assert limited.exit_code == 2, limited.output
            assert f"{flag} does not apply with --store kubernetes" in limited.output
    assert not (tmp_path / "home" / "argosy.db").exists()
