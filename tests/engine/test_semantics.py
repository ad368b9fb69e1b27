"""Engine semantics on real in-process runs (real processes, real files, real SQLite).

Each test submits a small workflow through the service layer, runs it with the engine in this
process, and checks the recorded state against Argo's behaviour. Concurrency is judged from
times the processes record themselves, never from the test's own clock.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from argosy.api.service import apply_overrides, submit
from argosy.engine.run import Engine
from argosy.errors import InvalidWorkflow
from argosy.plugins.local import LocalExecutor
from argosy.store import Store

HEAD = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
"""
ECHO = """
  - name: echo
    inputs: {parameters: [{name: m}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.m}}"]}
"""
# Prints the time it starts and the time it ends, as the process itself sees them.
STAMP = """
  - name: stamp
    container: {image: alpine, command: [sh, -c, "date +%s.%N; sleep 0.3; date +%s.%N"]}
"""


def run_workflow(spec: str, home: Path, head: str = HEAD, **overrides: Any) -> dict[str, Any]:
    store = Store(home)
    try:
        record = submit(store, head + spec, **overrides)
        asyncio.run(Engine(store).run(record.uid))
        return store.workflow(store.get(record.uid))
    finally:
        store.close()


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in wf["status"]["nodes"].values()}


def result(wf: dict[str, Any], name: str) -> str:
    return nodes(wf)[name]["outputs"]["result"]


def interval(wf: dict[str, Any], name: str) -> tuple[float, float]:
    start, end = result(wf, name).split()
    return float(start), float(end)


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals running at one instant."""
    return max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)


# ---- inputs -------------------------------------------------------------------------------------


def test_input_defaults_values_and_arguments(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  arguments: {parameters: [{name: msg, value: hello}]}
  templates:
  - name: main
    steps:
    - - name: s
        template: defaults
        arguments: {parameters: [{name: b, value: given}]}
  - name: defaults
    inputs:
      parameters:
      - {name: a, default: def-a}
      - {name: b, default: def-b}
      - {name: c, value: "fixed-{{workflow.parameters.msg}}"}
    container:
      image: alpine
      command: [echo, "{{inputs.parameters.a}} {{inputs.parameters.b}} {{inputs.parameters.c}}"]
""", tmp_path)
    node = nodes(wf)["wf[0].s"]
    assert node["inputs"] == {"parameters": [{"name": "a", "value": "def-a"},
                                             {"name": "b", "value": "given"},
                                             {"name": "c", "value": "fixed-hello"}]}
    assert node["outputs"]["result"] == "def-a given fixed-hello"


ENUM = """
  entrypoint: main
  arguments:
    parameters:
    - {name: color, value: red, enum: [red, blue]}
  templates:
  - name: main
    steps:
    - - name: pick
        template: pick
        arguments: {parameters: [{name: size, value: "{{workflow.parameters.color}}"}]}
  - name: pick
    inputs: {parameters: [{name: size, enum: [s, m, red]}]}
    container: {image: alpine, command: [echo, "{{inputs.parameters.size}}"]}
"""


def test_workflow_argument_outside_its_enum_is_rejected(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with pytest.raises(InvalidWorkflow) as info:
            submit(store, HEAD + ENUM.replace("value: red,", "value: green,"))
        assert "spec.arguments.parameters[0]" in str(info.value)
        assert "enum" in str(info.value)
        assert store.list() == []
    finally:
        store.close()


def test_enum_value_runs(tmp_path: Path) -> None:
    wf = run_workflow(ENUM, tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    assert result(wf, "wf[0].pick") == "red"


def test_template_input_enum_is_not_enforced_at_run_time(tmp_path: Path) -> None:
    wf = run_workflow(ENUM, tmp_path, parameters={"color": "blue"})
    assert wf["status"]["phase"] == "Succeeded"
    assert result(wf, "wf[0].pick") == "blue"


# ---- -p overrides -------------------------------------------------------------------------------


def test_apply_overrides_submit_options() -> None:
    manifest: dict[str, Any] = {"metadata": {"generateName": "g-", "labels": {"a": "1"}},
                                "spec": {"entrypoint": "main", "arguments": {"parameters": [
                                    {"name": "x", "value": "1"},
                                    {"name": "y", "valueFrom": {"configMapKeyRef": {}}}]}}}
    out = apply_overrides(manifest, parameters={"y": "Y"}, entrypoint="other", name="fixed",
                          labels={"b": "2"}, namespace="ns")
    assert out is manifest
    assert manifest["spec"]["entrypoint"] == "other"
    assert manifest["metadata"] == {"name": "fixed", "labels": {"a": "1", "b": "2"},
                                    "namespace": "ns"}
    params = {p["name"]: p for p in manifest["spec"]["arguments"]["parameters"]}
    assert params == {"x": {"name": "x", "value": "1"}, "y": {"name": "y", "value": "Y"}}


def test_apply_overrides_generate_name_replaces_name() -> None:
    manifest: dict[str, Any] = {"metadata": {"name": "n"}, "spec": {}}
    apply_overrides(manifest, generate_name="gen-")
    assert manifest["metadata"] == {"generateName": "gen-"}
    untouched = {"metadata": {"name": "n"}, "spec": {}}
    assert apply_overrides(copy.deepcopy(untouched)) == untouched


def test_apply_overrides_parameters_like_argo() -> None:
    manifest: dict[str, Any] = {"spec": {"arguments": {"parameters": [
        {"name": "x", "value": "1"},
        {"name": "color", "value": "red", "enum": ["red", "blue"], "description": "d"}]}}}
    apply_overrides(manifest, parameters={"color": "green", "new": "n"})
    assert manifest["spec"]["arguments"]["parameters"] == [
        {"name": "color", "value": "green"}, {"name": "new", "value": "n"},
        {"name": "x", "value": "1"}]


def test_overrides_reach_workflow_parameters(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  arguments: {parameters: [{name: msg, value: hello}]}
  templates:
  - name: main
    container:
      image: alpine
      command: [echo, "{{workflow.parameters.msg}} {{workflow.parameters.extra}}"]
""", tmp_path, parameters={"msg": "over", "extra": "more"})
    assert result(wf, "wf") == "over more"


# ---- outputs ------------------------------------------------------------------------------------


OUTPUTS = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: w, template: write}
      - {name: f, template: fail, continueOn: {failed: true}}
      - {name: m, template: missing, continueOn: {error: true}}
    - - name: show
        template: echo
        arguments:
          parameters:
          - name: m
            value: "{{steps.w.outputs.parameters.a}}|{{steps.w.outputs.parameters.b}}|\\
              {{steps.w.outputs.parameters.c}}|{{steps.f.exitCode}}|\\
              {{steps.f.outputs.result}}|{{steps.f.status}}|{{steps.m.status}}"
  - name: write
    script:
      image: alpine
      command: [sh]
      source: |
        printf 'one\\n\\n' > /tmp/a
        printf 'two' > /tmp/b
        echo done
    outputs:
      parameters:
      - {name: a, valueFrom: {path: /tmp/a}}
      - {name: b, valueFrom: {path: /tmp/b}}
      - {name: c, valueFrom: {path: /tmp/nope, default: dflt}}
  - name: fail
    container: {image: alpine, command: [sh, -c, "echo bad; exit 3"]}
  - name: missing
    container: {image: alpine, command: ["true"]}
    outputs:
      parameters:
      - {name: x, valueFrom: {path: /tmp/nope}}
""" + ECHO


@pytest.fixture(scope="module")
def outputs_wf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_workflow(OUTPUTS, tmp_path_factory.mktemp("outputs"))


def test_output_parameters_from_files(outputs_wf: dict[str, Any]) -> None:
    node = nodes(outputs_wf)["wf[0].w"]
    # One trailing newline is trimmed, no more; a missing file takes the default.
    assert node["outputs"] == {"result": "done", "exitCode": "0", "parameters": [
        {"name": "a", "value": "one\n"}, {"name": "b", "value": "two"},
        {"name": "c", "value": "dflt"}]}


def test_missing_output_file_without_default_is_an_error(outputs_wf: dict[str, Any]) -> None:
    node = nodes(outputs_wf)["wf[0].m"]
    assert node["phase"] == "Error"
    assert "/tmp/nope" in node["message"]


def test_result_exit_code_and_continue_on(outputs_wf: dict[str, Any]) -> None:
    assert outputs_wf["status"]["phase"] == "Succeeded"
    failed = nodes(outputs_wf)["wf[0].f"]
    assert failed["phase"] == "Failed"
    assert failed["message"] == "Error (exit code 3)"
    assert failed["outputs"] == {"result": "bad", "exitCode": "3"}
    assert result(outputs_wf, "wf[1].show") == "one\n|two|dflt|3|bad|Failed|Error"
    assert nodes(outputs_wf)["wf[0]"]["phase"] == "Succeeded"


def test_output_default_trailing_newline_is_trimmed(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: ["true"]}
    outputs: {parameters: [{name: p, valueFrom: {path: /tmp/none, default: "dflt\\n"}}]}
""", tmp_path)
    assert nodes(wf)["wf"]["outputs"]["parameters"] == [{"name": "p", "value": "dflt"}]


def test_failed_step_without_continue_on_stops_the_steps(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: f, template: fail}
    - - {name: never, template: fail}
  - name: fail
    container: {image: alpine, command: [sh, -c, "exit 1"]}
""", tmp_path)
    failed = nodes(wf)["wf[0].f"]["id"]
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == f"child '{failed}' failed"
    assert sorted(nodes(wf)) == ["wf", "wf[0]", "wf[0].f"]
    assert nodes(wf)["wf[0]"]["phase"] == "Failed"


def test_dag_continue_on_error_lets_dependents_run(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: X, template: missing, continueOn: {error: true}}
      # Argo rejects continueOn beside `depends`; with `dependencies` it widens "X" to errors.
      - name: after
        dependencies: [X]
        template: echo
        arguments: {parameters: [{name: m, value: "after {{tasks.X.status}}"}]}
  - name: missing
    container: {image: alpine, command: ["true"]}
    outputs: {parameters: [{name: x, valueFrom: {path: /tmp/nope}}]}
""" + ECHO, tmp_path)
    assert nodes(wf)["wf.X"]["phase"] == "Error"
    assert result(wf, "wf.after") == "after Error"
    assert wf["status"]["phase"] == "Succeeded"


# ---- loops and aggregated outputs ---------------------------------------------------------------


AGGREGATE = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen}
    - - name: sq
        template: sq
        arguments: {parameters: [{name: num, value: "{{item}}"}]}
        withParam: "{{steps.gen.outputs.result}}"
    - - name: show
        template: echo
        arguments:
          parameters:
          - {name: m, value: "{{steps.sq.outputs.result}}#{{steps.sq.outputs.parameters.j}}"}
      - name: params
        template: echo
        arguments: {parameters: [{name: m, value: "{{steps.sq.outputs.parameters}}"}]}
      - name: by-name
        template: echo
        arguments: {parameters: [{name: m, value: "{{steps.sq.outputs.parameters.v}}"}]}
  - name: gen
    script:
      image: python
      command: [sh]
      source: echo '[1, 2, 3]'
  - name: sq
    inputs: {parameters: [{name: num}]}
    script:
      image: alpine
      command: [sh]
      source: |
        echo '{"sq": {{inputs.parameters.num}}}'
        echo {{inputs.parameters.num}} > /tmp/v
        echo '["{{inputs.parameters.num}}"]' > /tmp/j
    outputs:
      parameters:
      - {name: v, valueFrom: {path: /tmp/v}}
      - {name: j, valueFrom: {path: /tmp/j}}
""" + ECHO


@pytest.fixture(scope="module")
def aggregate_wf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_workflow(AGGREGATE, tmp_path_factory.mktemp("aggregate"))


def test_with_param_from_a_previous_result(aggregate_wf: dict[str, Any]) -> None:
    assert aggregate_wf["status"]["phase"] == "Succeeded"
    loop = {name: n["inputs"]["parameters"] for name, n in nodes(aggregate_wf).items()
            if name.startswith("wf[1].sq(")}
    assert loop == {f"wf[1].sq({i}:{v})": [{"name": "num", "value": v}]
                    for i, v in enumerate(["1", "2", "3"])}


def test_aggregated_results_and_json_parameters(aggregate_wf: dict[str, Any]) -> None:
    assert result(aggregate_wf, "wf[2].show") == \
        '[{"sq":1},{"sq":2},{"sq":3}]#[["1"],["2"],["3"]]'


def test_aggregated_parameters_are_sorted_maps(aggregate_wf: dict[str, Any]) -> None:
    assert result(aggregate_wf, "wf[2].params") == (
        '[{"j":"[\\"1\\"]","v":"1"},{"j":"[\\"2\\"]","v":"2"},{"j":"[\\"3\\"]","v":"3"}]')


def test_aggregated_parameter_by_name_keeps_scalars_as_strings(
        aggregate_wf: dict[str, Any]) -> None:
    assert result(aggregate_wf, "wf[2].by-name") == '["1","2","3"]'


def test_dag_loop_over_a_task_result(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: gen, template: gen}
      - name: B
        depends: gen
        template: echo
        arguments: {parameters: [{name: m, value: "{{item.k}}"}]}
        withParam: "{{tasks.gen.outputs.result}}"
      - name: C
        depends: B
        template: echo
        arguments: {parameters: [{name: m, value: "{{tasks.B.outputs.result}}"}]}
  - name: gen
    container: {image: alpine, command: [echo, '[{"k": "x"}, {"k": "y"}]']}
""" + ECHO, tmp_path)
    assert sorted(n for n in nodes(wf) if n.startswith("wf.B")) == \
        ["wf.B", "wf.B(0:k:x)", "wf.B(1:k:y)"]
    assert result(wf, "wf.C") == '["x","y"]'


def test_recursion_terminates(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: count
  arguments: {parameters: [{name: start, value: "0"}]}
  templates:
  - name: count
    inputs: {parameters: [{name: i, value: "{{workflow.parameters.start}}"}]}
    steps:
    - - name: inc
        template: inc
        arguments: {parameters: [{name: i, value: "{{inputs.parameters.i}}"}]}
    - - name: again
        template: count
        when: "{{steps.inc.outputs.result}} < 3"
        arguments: {parameters: [{name: i, value: "{{steps.inc.outputs.result}}"}]}
  - name: inc
    inputs: {parameters: [{name: i}]}
    container: {image: alpine, command: [sh, -c, "echo $(( {{inputs.parameters.i}} + 1 ))"]}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    got = nodes(wf)
    assert [got[n]["outputs"]["result"] for n in (
        "wf[0].inc", "wf[1].again[0].inc", "wf[1].again[1].again[0].inc")] == ["1", "2", "3"]
    last = got["wf[1].again[1].again[1].again"]
    assert (last["phase"], last["message"]) == ("Skipped", "when '3 < 3' evaluated false")
    assert len(got) == 13


# ---- DAG target and failFast --------------------------------------------------------------------


FAIL_FAST = """
  entrypoint: main
  templates:
  - name: main
    dag:
      %s
      tasks:
      - {name: A, template: ok}
      - {name: B, template: bad}
      - {name: C, template: slow, depends: A}
      - {name: D, template: ok, depends: C}
      - {name: E, template: ok, depends: B}
  - name: ok
    container: {image: alpine, command: [echo, ok]}
  - name: slow
    container: {image: alpine, command: [sh, -c, "sleep 1; echo slow"]}
  - name: bad
    container: {image: alpine, command: [sh, -c, "exit 1"]}
"""


def test_dag_target_runs_only_what_the_target_needs(tmp_path: Path) -> None:
    wf = run_workflow(FAIL_FAST % "target: C", tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    assert sorted(nodes(wf)) == ["wf", "wf.A", "wf.C"]
    assert nodes(wf)["wf"]["outboundNodes"] == [nodes(wf)["wf.C"]["id"]]


def test_dag_fail_fast_false_runs_every_branch(tmp_path: Path) -> None:
    wf = run_workflow(FAIL_FAST % "failFast: false", tmp_path)
    phases = {name: n["phase"] for name, n in nodes(wf).items()}
    assert phases == {"wf": "Failed", "wf.A": "Succeeded", "wf.B": "Failed",
                      "wf.C": "Succeeded", "wf.D": "Succeeded", "wf.E": "Omitted"}
    assert wf["status"]["phase"] == "Failed"


def test_dag_fail_fast_starts_nothing_after_a_failed_branch(tmp_path: Path) -> None:
    wf = run_workflow(FAIL_FAST % "", tmp_path)
    assert wf["status"]["phase"] == "Failed"
    assert "wf.D" not in nodes(wf)


# ---- workflow-level retryStrategy ---------------------------------------------------------------


def test_workflow_retry_strategy_is_the_default_of_every_template(tmp_path: Path) -> None:
    # Argo: a template without a retryStrategy takes spec.retryStrategy, steps templates too.
    wf = run_workflow("""
  entrypoint: main
  retryStrategy: {limit: 1}
  templates:
  - name: main
    steps:
    - - {name: a, template: bad}
      - {name: b, template: bad-once}
  - name: bad
    container: {image: alpine, command: [sh, -c, "exit 1"]}
  - name: bad-once
    retryStrategy: {limit: 0}
    container: {image: alpine, command: [sh, -c, "exit 1"]}
""", tmp_path)
    assert wf["status"]["phase"] == "Failed"
    kinds = {name: n["type"] for name, n in nodes(wf).items()}
    assert kinds == {
        "wf": "Retry", "wf(0)": "Steps", "wf(1)": "Steps",
        **{f"wf({i})[0]": "StepGroup" for i in (0, 1)},
        **{f"wf({i})[0].a": "Retry" for i in (0, 1)},
        **{f"wf({i})[0].a({j})": "Pod" for i in (0, 1) for j in (0, 1)},
        **{f"wf({i})[0].b": "Retry" for i in (0, 1)},
        **{f"wf({i})[0].b(0)": "Pod" for i in (0, 1)},
    }


def test_template_defaults_lie_under_each_templates_own_fields(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templateDefaults:
    retryStrategy: {limit: 1}
    container: {image: alpine, command: [echo, default]}
  templates:
  - name: main
    retryStrategy: {limit: 0}
    steps:
    - - {name: own, template: own}
      - {name: bad, template: bad}
  - name: own
    container: {args: [mine]}
  - name: bad
    container: {command: [sh, -c, "exit 1"]}
""", tmp_path)
    assert result(wf, "wf(0)[0].own(0)") == "default mine"
    assert [n for n in nodes(wf) if n.startswith("wf(0)[0].bad(")] == \
        ["wf(0)[0].bad(0)", "wf(0)[0].bad(1)"]
    assert "wf(1)" not in nodes(wf)  # main's own retryStrategy wins


def test_workflow_deadline_fails_the_workflow(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  activeDeadlineSeconds: 1
  templates:
  - name: main
    container: {image: alpine, command: [sleep, "60"]}
""", tmp_path)
    assert (wf["status"]["phase"], wf["status"]["message"]) == \
        ("Failed", "Step exceeded its deadline")


def test_workflow_hooks_and_metadata(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  hooks:
    exit:
      template: echo
      arguments: {parameters: [{name: m, value: "bye {{workflow.status}}"}]}
    started:
      expression: workflow.status == "Running"
      template: echo
      arguments: {parameters: [{name: m, value: started}]}
  templates:
  - name: main
    container: {image: alpine, command: [echo, "{{workflow.annotations.note}}"]}
""" + ECHO, tmp_path, head=HEAD.replace("{name: wf}", "{name: wf, annotations: {note: noted}}"))
    assert result(wf, "wf") == "noted"
    assert result(wf, "wf.onExit") == "bye Succeeded"
    assert result(wf, "wf.hooks.started") == "started"


# ---- parallelism --------------------------------------------------------------------------------


def test_template_parallelism_runs_one_at_a_time(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    steps:
    - - {name: p, template: stamp, withSequence: {count: "4"}}
""" + STAMP, tmp_path)
    spans = [interval(wf, f"wf[0].p({i}:{i})") for i in range(4)]
    assert max_overlap(spans) == 1


def test_dag_template_parallelism(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    parallelism: 2
    dag:
      tasks:
      - {name: a, template: stamp}
      - {name: b, template: stamp}
      - {name: c, template: stamp}
      - {name: d, template: stamp}
      - {name: e, template: stamp}
""" + STAMP, tmp_path)
    assert max_overlap([interval(wf, f"wf.{t}") for t in "abcde"]) <= 2


def test_spec_parallelism_counts_pods_only(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  parallelism: 2
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: stamp}
      - {name: b, template: stamp}
      - {name: c, template: stamp}
      - name: d
        inline:
          container: {image: alpine, command: [sh, -c, "date +%s.%N; sleep 0.3; date +%s.%N"]}
      - {name: s, template: pause}
  - name: pause
    suspend: {duration: "1s"}
""" + STAMP, tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    assert max_overlap([interval(wf, f"wf.{t}") for t in "abcd"]) <= 2
    assert nodes(wf)["wf.s"]["type"] == "Suspend"


# ---- suspend, inline templates, workflow variables, private /tmp ---------------------------------


def test_suspend_with_duration_waits_then_succeeds(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: before, template: stamp}
    - - {name: pause, template: pause}
    - - {name: after, template: stamp}
  - name: pause
    suspend: {duration: "1s"}
""" + STAMP, tmp_path)
    pause = nodes(wf)["wf[1].pause"]
    assert (pause["type"], pause["phase"]) == ("Suspend", "Succeeded")
    # Like Argo's controller, the deadline is the node's recorded startedAt (whole seconds)
    # plus the duration; the next step, by its own clock, starts no earlier than that.
    started = datetime.strptime(pause["startedAt"] + "+0000", "%Y-%m-%dT%H:%M:%SZ%z")
    assert interval(wf, "wf[2].after")[0] >= started.timestamp() + 1.0
    assert interval(wf, "wf[2].after")[0] > interval(wf, "wf[0].before")[1]


EXPIRING = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: pause, template: pause}
    - - name: after
        template: echo
        arguments: {parameters: [{name: m, value: "{{steps.pause.outputs.parameters.a}}"}]}
  - name: pause
    suspend: {duration: "0s"}
    outputs: {parameters: [{name: a, valueFrom: {supplied: {}, default: fallback}}]}
""" + ECHO


def test_expired_suspend_outputs_take_their_defaults(tmp_path: Path) -> None:
    # Argo's OverrideOutputParametersWithDefault, when the duration runs out unresumed.
    wf = run_workflow(EXPIRING, tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    assert result(wf, "wf[1].after") == "fallback"


def test_expired_suspend_output_without_default_is_an_error(tmp_path: Path) -> None:
    wf = run_workflow(EXPIRING.replace(", default: fallback", ""), tmp_path)
    pause = nodes(wf)["wf[0].pause"]
    assert pause["phase"] == "Error"
    assert pause["message"] == ("raw output parameter 'a' has not been set and does not have "
                                "a default value")
    assert wf["status"]["phase"] != "Succeeded"


SKIPPED_PRODUCER = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: x, template: gen, when: "false"}
    - - {name: z, template: echo, arguments: {parameters: [{name: m, value: "{{item}}"}]},
         withParam: "{{steps.x.outputs.parameters.p}}"}
  - name: gen
    container: {image: alpine, command: [sh, -c, "echo [1] > /tmp/p"]}
    outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
""" + ECHO


def test_with_param_fed_by_a_skipped_step_fails_the_steps(tmp_path: Path) -> None:
    # As Argo: the group errors, and a Steps node with an unsuccessful group is Failed.
    wf = run_workflow(SKIPPED_PRODUCER, tmp_path)
    assert wf["status"]["phase"] == "Failed"
    assert nodes(wf)["wf"]["phase"] == "Failed"
    assert nodes(wf)["wf[1]"]["phase"] == "Error"
    assert nodes(wf)["wf[1]"]["message"] == ABSENT.format("steps.x.outputs.parameters.p")


# Argo's message for a reference to the output of a skipped producer that declared no default.
ABSENT = ("unable to substitute {{{{{}}}}}: output is an absent optional "
          "(skipped/omitted node with no default)")
WHEN_SKIPPED = """
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: x, template: gen, when: "false"}
    - - {name: quoted, template: echo, arguments: {parameters: [{name: m, value: q}]},
         when: "'{{steps.x.outputs.parameters.p}}' == yes"}
      - {name: bare, template: echo, arguments: {parameters: [{name: m, value: b}]},
         when: "{{steps.x.outputs.parameters.p}} == yes"}
      - {name: fallback, template: echo, arguments: {parameters: [{name: m, value: f}]},
         when: "{{= steps.x.outputs.parameters.p ?? 'no' }} == no"}
  - name: gen
    container: {image: alpine, command: [sh, -c, "echo yes > /tmp/p"]}
    outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
""" + ECHO


def test_a_when_reading_a_skipped_steps_output_fails_the_workflow(tmp_path: Path) -> None:
    wf = run_workflow(WHEN_SKIPPED, tmp_path)
    assert wf["status"]["phase"] == "Failed"
    for step in ("quoted", "bare"):  # quoted, the leftover tag no longer reads as a string
        node = nodes(wf)[f"wf[1].{step}"]
        assert (node["phase"], node["message"]) == (
            "Error", ABSENT.format("steps.x.outputs.parameters.p"))
    assert nodes(wf)["wf[1].fallback"]["phase"] == "Succeeded"  # `??` handles the absence


def test_a_when_reading_a_skipped_producers_default_runs(tmp_path: Path) -> None:
    spec = WHEN_SKIPPED.replace("{path: /tmp/p}", '{path: /tmp/p, default: "yes"}')
    wf = run_workflow(spec, tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    assert {n: nodes(wf)[f"wf[1].{n}"]["phase"] for n in ("quoted", "bare", "fallback")} == {
        "quoted": "Succeeded", "bare": "Succeeded", "fallback": "Skipped"}


def test_an_artifact_sub_path_from_a_skipped_dag_task_is_an_error(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: x, template: gen, when: "false"}
      - name: use
        depends: x
        template: show
        arguments:
          artifacts: [{name: a, from: "{{tasks.x.outputs.artifacts.o}}", subPath: f}]
  - name: gen
    container: {image: alpine, command: [sh, -c, "mkdir /tmp/o; echo hi > /tmp/o/f"]}
    outputs: {artifacts: [{name: o, path: /tmp/o}]}
  - name: show
    inputs: {artifacts: [{name: a, path: /tmp/a}]}
    container: {image: alpine, command: [cat, /tmp/a]}
""", tmp_path)
    assert wf["status"]["phase"] == "Error"
    use = nodes(wf)["wf.use"]
    assert use["phase"] == "Error"
    # Argo: `Unable to resolve: "tasks.x.outputs.artifacts.o"`; argosy names the input too.
    assert 'Unable to resolve: "{{tasks.x.outputs.artifacts.o}}"' in use["message"]


def test_inline_templates_in_steps_and_dag(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  arguments: {parameters: [{name: msg, value: hi}]}
  templates:
  - name: main
    steps:
    - - name: s
        inline:
          container: {image: alpine, command: [echo, "step {{workflow.parameters.msg}}"]}
    - - {name: d, template: dag}
  - name: dag
    dag:
      tasks:
      - name: T
        arguments: {parameters: [{name: x, value: "X"}]}
        inline:
          inputs: {parameters: [{name: x}]}
          container: {image: alpine, command: [echo, "task {{inputs.parameters.x}}"]}
""", tmp_path)
    assert wf["status"]["phase"] == "Succeeded"
    assert result(wf, "wf[0].s") == "step hi"
    assert result(wf, "wf[1].d.T") == "task X"
    assert nodes(wf)["wf[1].d.T"]["type"] == "Pod"


def test_workflow_variables(tmp_path: Path) -> None:
    wf = run_workflow("""
  entrypoint: main
  arguments: {parameters: [{name: x, value: "ex"}]}
  templates:
  - name: main
    container:
      image: alpine
      command:
      - echo
      - "{{workflow.name}}|{{workflow.uid}}|{{workflow.namespace}}|\\
        {{workflow.parameters.x}}|{{workflow.creationTimestamp}}"
""", tmp_path)
    meta = wf["metadata"]
    assert result(wf, "wf") == \
        f"wf|{meta['uid']}|default|ex|{meta['creationTimestamp']}"
    # Argo formats the timestamp as RFC 3339, seconds, UTC.
    datetime.strptime(meta["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")


def test_a_manifests_server_set_metadata_is_not_read(tmp_path: Path) -> None:
    # As exported by `argo get -o yaml`: the new workflow has its own uid and creation time.
    head = HEAD.replace("{name: wf}", "{name: wf, uid: old, creationTimestamp: "
                        "'2001-01-01T00:00:00Z'}")
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [echo, "{{workflow.uid}} {{workflow.creationTimestamp}}"]}
""", tmp_path, head=head)
    meta = wf["metadata"]
    assert meta["uid"] != "old" and not meta["creationTimestamp"].startswith("2001")
    assert result(wf, "wf") == f"{meta['uid']} {meta['creationTimestamp']}"


def test_parallel_steps_have_a_private_tmp(tmp_path: Path) -> None:
    if not LocalExecutor()._isolated():
        pytest.skip("no mount namespaces here: the local executor runs unisolated")
    wf = run_workflow("""
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: t
        template: tmp
        arguments: {parameters: [{name: v, value: "{{item}}"}]}
        withItems: [one, two, three]
  - name: tmp
    inputs: {parameters: [{name: v}]}
    container:
      image: alpine
      command: [sh, -c, "echo {{inputs.parameters.v}} > /tmp/num; sleep 0.3; cat /tmp/num"]
    outputs: {parameters: [{name: num, valueFrom: {path: /tmp/num}}]}
""", tmp_path)
    got = {name: (n["outputs"]["result"], n["outputs"]["parameters"][0]["value"])
           for name, n in nodes(wf).items() if name.startswith("wf[0].t(")}
    assert got == {"wf[0].t(0:one)": ("one", "one"), "wf[0].t(1:two)": ("two", "two"),
                   "wf[0].t(2:three)": ("three", "three")}
