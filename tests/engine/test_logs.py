"""Node logs: kept whatever ended the node, bounded in the store, whole while the workflow
exists; ``outputs.result`` capped as Argo caps it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import WorkflowService
from argosy.engine.run import Engine
from argosy.errors import ArgosyError
from argosy.plugin import ProcessRequest
from argosy.plugins.local import LocalBackend
from argosy.store import Store, log_limit
from tests.engine.log_cases import PLUGGED, PLUGIN_SAID, STOPPED_SAID, registry, run_case, sleepy


def pods(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted((n for n in wf["status"]["nodes"].values() if n["type"] == "Pod"),
                  key=lambda n: n["name"])


def logs_of(home: Path, wf: dict[str, Any]) -> list[str | None]:
    store = Store(home)
    try:
        return [store.log(wf["metadata"]["uid"], n["id"]) for n in pods(wf)]
    finally:
        store.close()


@pytest.mark.parametrize("then, spec, template, pod_count", [
    ("stop", "", "", 1),
    ("terminate", "", "", 1),
    ("interrupt", "", "", 1),
    # Deadlines count from start times of whole seconds (as Argo's): a step begun just before
    # one ends has ~0 s of a 1 s deadline, maybe too little to print. 3 s leaves it 2 or more.
    (None, "activeDeadlineSeconds: 3", "", 1),
    (None, "", "activeDeadlineSeconds: 3", 1),
    # Two attempts, each killed at its deadline: each attempt keeps its own log.
    (None, "", "activeDeadlineSeconds: 3\n    retryStrategy: {limit: 1}", 2),
], ids=["stop", "terminate", "ctrl-c", "workflow deadline", "template deadline",
        "retried attempts"])
def test_a_killed_step_keeps_what_it_printed(then: str | None, spec: str, template: str,
                                             pod_count: int, tmp_path: Path) -> None:
    wf = run_case(tmp_path, sleepy("killed", spec, template), then)
    assert wf["status"]["phase"] == "Failed"
    assert [n["phase"] for n in pods(wf)] == ["Failed"] * pod_count
    assert logs_of(tmp_path, wf) == [f"{STOPPED_SAID}\non stderr\n"] * pod_count


def test_a_process_lost_in_an_engine_crash_keeps_what_it_printed(tmp_path: Path) -> None:
    # What a crash leaves: a process was started (pid file), printed, and is gone with no
    # recorded exit code.
    node = tmp_path / "node"
    node.mkdir()
    (node / "stdout").write_text("printed before the crash\n")
    (node / "pid").write_text(f"{os.getpid()} not-its-start-time\n")
    outcome = asyncio.run(LocalBackend().run_process(
        ProcessRequest(argv=["true"], env={}, working_dir=None, node_dir=node)))
    assert outcome.phase == "Error" and "without recording its exit code" in outcome.message
    store = Store(tmp_path / "home")
    store.keep_log("uid", "n", [*([outcome.log] if outcome.log else []), *outcome.log_files])
    assert store.log("uid", "n") == "printed before the crash\n"


def test_the_store_keeps_head_and_tail_and_the_whole_log_is_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_LOG_LIMIT", "200")
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    out.write_text("".join(f"line {i:03}\n" for i in range(100)))  # 900 bytes
    err.write_text("the end on stderr\n")
    store = Store(tmp_path / "home")
    store.keep_log("uid", "node", ["from the plugin\n", out, err])
    whole = "from the plugin\n" + out.read_text() + err.read_text()
    assert store.log("uid", "node") == whole
    kept = store.db.execute("SELECT content FROM logs").fetchone()[0]
    head, marker, tail = kept.split("\n... ")[0], kept.split("\n... ")[1].split("\n")[0], \
        kept.split(" ...\n")[1]
    assert whole.startswith(head + "\n") and whole.endswith(tail)
    assert len(head) + len(tail) <= 200
    assert head.endswith(("7", "8", "9")) or head.splitlines()[-1].startswith("line")
    cut = len(whole) - len(head) - 1 - len(tail)
    assert marker.startswith(f"{cut} bytes ") and "ARGOSY_LOG_LIMIT" in marker
    # Short again (a retried node): the store alone, no file left behind.
    store.keep_log("uid", "node", ["short\n"])
    assert store.log("uid", "node") == "short\n"
    assert not store.log_path("uid", "node").exists()
    # A memoized resubmit carries a succeeded node over, its whole log with it.
    store.copy_log("uid", "node", "uid2", "node2")
    assert store.log("uid2", "node2") == "short\n"
    store.keep_log("uid", "node", [out])
    store.copy_log("uid", "node", "uid2", "node2")
    assert store.log("uid2", "node2") == out.read_text()
    # A node a retry forgets loses its whole log with it.
    store.keep_log("uid", "node", [out])
    assert store.log_path("uid", "node").exists()
    store.delete_nodes("uid", ["node"])
    assert (store.log("uid", "node"), store.log_path("uid", "node").exists()) == (None, False)


@pytest.mark.parametrize("value, limit", [("", 1 << 20), ("4096", 4096), ("256Ki", 256 << 10),
                                          ("2Mi", 2 << 20), ("1k", 1000)])
def test_the_log_limit_setting(value: str, limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_LOG_LIMIT", value)
    assert log_limit() == limit


@pytest.mark.parametrize("value", ["lots", "-5", "1.5Mi", "1", "3 parsecs"])
def test_a_bad_log_limit_names_the_setting(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_LOG_LIMIT", value)
    with pytest.raises(ArgosyError, match=f"ARGOSY_LOG_LIMIT='{value}': expected a number"):
        log_limit()


HUGE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: huge}
spec:
  entrypoint: main
  templates:
  - name: main
    script:
      image: python
      command: [python3]
      source: |
        import sys
        for i in range(40000):
            sys.stdout.write(f"{i:09}\\n")
        sys.stderr.write("done\\n")
"""


def test_a_huge_output_is_bounded_in_the_store_and_whole_until_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_LOG_LIMIT", "64Ki")
    wf = run_case(tmp_path, HUGE)
    (pod,) = pods(wf)
    stdout = "".join(f"{i:09}\n" for i in range(40000))  # 400,000 bytes
    # Argo's outputs.result: the last 256 kB of stdout, its final newline trimmed.
    assert pod["outputs"]["result"] == stdout.removesuffix("\n")[-(256 << 10):]
    store = Store(tmp_path)
    uid = wf["metadata"]["uid"]
    assert store.log(uid, pod["id"]) == stdout + "done\n"
    (kept,) = store.db.execute("SELECT length(content) FROM logs").fetchone()
    assert kept < 66 << 10
    assert store.log_path(uid, pod["id"]).stat().st_size == len(stdout) + 5
    assert (tmp_path / "logs").stat().st_mode & 0o777 == 0o700  # the steps' output
    WorkflowService(store).delete("default", "huge")
    assert not store.log_path(uid, pod["id"]).exists()
    assert store.db.execute("SELECT count(*) FROM logs").fetchone() == (0,)


def test_a_plugin_nodes_log_is_shown(tmp_path: Path) -> None:
    run_case(tmp_path, PLUGGED, reg=registry())
    store = Store(tmp_path)
    assert WorkflowService(store).logs("default", "plugged") == [
        ("plugged", PLUGIN_SAID), ("plugged", "in two lines")]


def test_an_engine_start_removes_whole_logs_of_deleted_workflows(tmp_path: Path) -> None:
    store = Store(tmp_path)
    kept = run_case(tmp_path, sleepy("kept"), "stop")["metadata"]["uid"]
    store.keep_log(kept, "n", ["x" * (2 << 20)])
    store.keep_log("deleted-mid-run", "n", ["x" * (2 << 20)])
    Engine(store)
    assert store.log_path(kept, "n").exists()
    assert not (tmp_path / "logs" / "deleted-mid-run").exists()


CONTAINER_SET = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: pod-of-two}
spec:
  entrypoint: main
  templates:
  - name: main
    containerSet:
      containers:
      - {name: first, image: alpine, command: [sh, -c, "echo first done"]}
      - name: main
        image: alpine
        command: [sh, -c, "echo SAID; exec sleep 60"]
        dependencies: [first]
""".replace("SAID", STOPPED_SAID)


def test_a_stopped_container_set_keeps_its_containers_logs(tmp_path: Path) -> None:
    wf = run_case(tmp_path, CONTAINER_SET, "stop")
    store = Store(tmp_path)
    uid = wf["metadata"]["uid"]
    by_name = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert store.log(uid, by_name["first"]["id"]) == "first done\n"
    assert store.log(uid, by_name["main"]["id"]) == f"{STOPPED_SAID}\n"
    assert store.log(uid, by_name["pod-of-two"]["id"]) == f"first done\n{STOPPED_SAID}\n"


# Names sorted alphabetically ("wf.onExit" < "wf[0].zulu" < "wf[1].alpha") contradict the run.
IN_ORDER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: zulu, template: say, arguments: {parameters: [{name: x, value: first}]}}
    - - {name: alpha, template: say, arguments: {parameters: [{name: x, value: second}]}}
  - name: say
    inputs: {parameters: [{name: x}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.x}}"]}
  - name: bye
    container: {image: alpine, command: [echo, exit handler]}
"""


def test_logs_of_nodes_started_within_one_second_are_in_run_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # startedAt has Argo's one-second grain: on a fast machine a whole workflow starts in one.
    for module in ("controller", "lifecycle", "nodes"):
        monkeypatch.setattr(f"argosy.engine.{module}.now_rfc3339", lambda: "2026-01-01T00:00:00Z")
    run_case(tmp_path, IN_ORDER)
    store = Store(tmp_path)
    try:
        assert WorkflowService(store).logs("default", "wf") == [
            ("zulu", "first"), ("alpha", "second"), ("wf.onExit", "exit handler")]
    finally:
        store.close()
