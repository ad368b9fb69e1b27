"""Tests for argosy.cli.render: the argo-style tree, header, live view and plain log.

Fixtures are hand-built Workflow dicts in Argo's `argo get -o json` shape.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console

from argosy.cli.render import (
    LiveView,
    PlainProgress,
    fit_widths,
    format_duration,
    node_tree,
    render_workflow,
)

T0 = "2026-11-27T13:40:00Z"
NOW = datetime(2026, 11, 27, 13, 45, 0, tzinfo=UTC)


def ts(seconds: int) -> str:
    """RFC3339 timestamp `seconds` after T0."""
    return f"2026-11-27T13:{40 + seconds // 60:02d}:{seconds % 60:02d}Z"


def node(
    nid: str,
    name: str,
    ntype: str,
    phase: str = "Succeeded",
    *,
    boundary: str | None = None,
    children: tuple[str, ...] = (),
    template: str = "whalesay",
    start: int | None = 0,
    end: int | None = 1,
    display: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A status.nodes entry; displayName defaults to the last name segment."""
    out: dict[str, Any] = {
        "id": nid,
        "name": name,
        "displayName": display or name.rsplit(".", 1)[-1],
        "type": ntype,
        "templateName": template,
        "phase": phase,
    }
    if boundary:
        out["boundaryID"] = boundary
    if children:
        out["children"] = list(children)
    if start is not None:
        out["startedAt"] = ts(start)
    if end is not None:
        out["finishedAt"] = ts(end)
    out.update(extra)
    return out


def workflow(name: str, nodes: list[dict[str, Any]], phase: str = "Succeeded", **status: Any):
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": "0b7d-uid",
            "creationTimestamp": T0,
            "labels": {},
            "annotations": {},
        },
        "spec": {"entrypoint": "main"},
        "status": {
            "phase": phase,
            "startedAt": T0,
            "finishedAt": ts(5) if phase in ("Succeeded", "Failed", "Error") else None,
            "nodes": {n["id"]: n for n in nodes},
            **status,
        },
    }


def render_text(wf: dict[str, Any], width: int = 120, **kwargs: Any) -> str:
    console = Console(file=StringIO(), width=width, color_system=None)
    console.print(render_workflow(wf, now=NOW, **kwargs))
    return console.file.getvalue()


def tree_lines(wf: dict[str, Any], **kwargs: Any) -> list[str]:
    """Rendered rows from the STEP header on, right-stripped."""
    lines = [line.rstrip() for line in render_text(wf, **kwargs).splitlines()]
    return lines[next(i for i, line in enumerate(lines) if line.startswith("STEP")) :]


def steps(rows: list) -> list[str]:
    return [r.step for r in rows]


# --- fixtures ---


def steps_wf() -> dict[str, Any]:
    """steps: [[hello1], [hello2b, hello2a]] with `children` deliberately out of order."""
    w = "steps-x7k2p"
    return workflow(
        w,
        [
            node(w, w, "Steps", children=("sg0",), template="main", end=5),
            node("sg0", f"{w}[0]", "StepGroup", boundary=w, children=("h1",), template="main"),
            node("h1", f"{w}[0].hello1", "Pod", boundary=w, children=("sg1",)),
            node(
                "sg1",
                f"{w}[1]",
                "StepGroup",
                boundary=w,
                children=("h2b", "h2a"),
                template="main",
                start=2,
                end=4,
            ),
            node("h2b", f"{w}[1].hello2b", "Pod", boundary=w, start=2, end=3),
            node("h2a", f"{w}[1].hello2a", "Pod", boundary=w, start=2, end=4),
        ],
    )


def dag_loop_wf() -> dict[str, Any]:
    """A DAG: A, then a loop task expanded by a TaskGroup, then B, plus skipped/omitted."""
    w = "dag-q9z"
    loop = [f"{w}-l{i}" for i in (10, 0, 1)]
    return workflow(
        w,
        [
            node(w, w, "DAG", children=(f"{w}-a",), template="main", end=5),
            node(f"{w}-b", f"{w}.B", "Pod", boundary=w, start=3, end=4),
            node(f"{w}-a", f"{w}.A", "Pod", boundary=w, children=(f"{w}-tg",)),
            node(
                f"{w}-tg",
                f"{w}.loop",
                "TaskGroup",
                boundary=w,
                children=tuple(loop),
                template="echo",
                start=1,
                end=3,
            ),
            node(loop[0], f"{w}.loop(10:k)", "Pod", boundary=w, template="echo", start=1, end=2),
            node(loop[1], f"{w}.loop(0:i)", "Pod", boundary=w, template="echo", start=1, end=2),
            node(loop[2], f"{w}.loop(1:j)", "Pod", boundary=w, template="echo", start=1, end=3),
            node(
                f"{w}-s",
                f"{w}.S",
                "Skipped",
                "Skipped",
                boundary=w,
                start=4,
                end=4,
                message="when 'false == true' evaluated false",
            ),
            node(
                f"{w}-o",
                f"{w}.O",
                "Skipped",
                "Omitted",
                boundary=w,
                start=4,
                end=4,
                message="omitted: depends condition not met",
            ),
        ],
    )


def retry_wf() -> dict[str, Any]:
    """Steps with one retried step (2 attempts) and one retry that passed first time."""
    w = "retry-m4"
    return workflow(
        w,
        [
            node(w, w, "Steps", children=("sg0",), template="main", end=9),
            node(
                "sg0",
                f"{w}[0]",
                "StepGroup",
                boundary=w,
                children=("r", "once"),
                template="main",
                end=9,
            ),
            node("r", f"{w}[0].flaky", "Retry", boundary=w, children=("r0", "r1"), end=9),
            node(
                "r0",
                f"{w}[0].flaky(0)",
                "Pod",
                "Failed",
                boundary=w,
                start=0,
                end=3,
                message="Error (exit code 1)",
            ),
            node("r1", f"{w}[0].flaky(1)", "Pod", boundary=w, start=4, end=9),
            node("once", f"{w}[0].solid", "Retry", boundary=w, children=("o0",), end=2),
            node("o0", f"{w}[0].solid(0)", "Pod", boundary=w, end=2),
        ],
    )


# --- node_tree ---


def test_steps_tree_hides_step_groups_and_orders_by_start_then_name():
    rows = node_tree(steps_wf(), now=NOW)
    assert steps(rows) == [
        " ✔ steps-x7k2p",
        " ├───✔ hello1",
        " └─┬─✔ hello2a",
        "   └─✔ hello2b",
    ]
    assert [r.depth for r in rows] == [0, 1, 1, 1]
    # Argo's pod name: workflow, template, and the hash that ends the node id.
    assert rows[1].pod_name == "steps-x7k2p-whalesay-h1" and rows[1].template == "whalesay"
    assert rows[0].pod_name == "" and rows[0].duration == ""  # only pods get these, as argo


def test_nested_steps_continue_the_vertical_lines():
    w = "nest"
    wf = workflow(
        w,
        [
            node(w, w, "Steps", children=("g0",), template="outer", end=9),
            node("g0", f"{w}[0]", "StepGroup", boundary=w, children=("inner", "p")),
            node("inner", f"{w}[0].inner", "Steps", boundary=w, children=("ig0",)),
            node("ig0", f"{w}[0].inner[0]", "StepGroup", boundary="inner", children=("q",)),
            node("q", f"{w}[0].inner[0].q", "Pod", boundary="inner"),
            node("p", f"{w}[0].p", "Pod", boundary=w),
            node("g1", f"{w}[1]", "StepGroup", boundary=w, children=("r",), start=2),
            node("r", f"{w}[1].r", "Pod", boundary=w, start=2, end=3),
        ],
    )
    assert steps(node_tree(wf)) == [
        " ✔ nest",
        " ├─┬─✔ inner",
        " │ │ └───✔ q",
        " │ └─✔ p",
        " └───✔ r",
    ]


def test_dag_loop_task_group_is_flattened_and_ordered_by_index():
    rows = node_tree(dag_loop_wf(), now=NOW)
    # loop(10:k) sorts after loop(1:j): same start, so the loop index decides, not the text.
    assert steps(rows) == [
        " ✔ dag-q9z",
        " ├─✔ A",
        " ├─✔ loop(0:i)",
        " ├─✔ loop(1:j)",
        " ├─✔ loop(10:k)",
        " ├─✔ B",
        " └─○ S",
    ]
    assert "TaskGroup" not in {r.type for r in rows}
    assert rows[-1].message.startswith("when ")


def test_retry_shows_attempts_and_collapses_single_attempt():
    rows = node_tree(retry_wf(), now=NOW)
    assert steps(rows) == [
        " ✔ retry-m4",
        " └─┬─✔ flaky",
        "   │ ├─✖ flaky(0)",
        "   │ └─✔ flaky(1)",
        "   └─✔ solid(0)",
    ]
    failed = rows[2]
    assert (failed.id, failed.phase, failed.message) == ("r0", "Failed", "Error (exit code 1)")
    assert failed.duration == "3s"


def test_running_pod_duration_uses_now_and_icons_follow_phase():
    w = "live"
    wf = workflow(
        w,
        [
            node(w, w, "Steps", "Running", children=("g",), end=None),
            node("g", f"{w}[0]", "StepGroup", "Running", boundary=w, children=("a", "b", "c")),
            node("a", f"{w}[0].a", "Pod", "Running", boundary=w, end=None),
            node("b", f"{w}[0].b", "Pod", "Pending", boundary=w, end=None),
            node("c", f"{w}[0].c", "Suspend", "Running", boundary=w, end=None),
        ],
        phase="Running",
    )
    rows = node_tree(wf, now=datetime(2026, 11, 27, 13, 42, 3, tzinfo=UTC))
    assert [(r.icon, r.display_name) for r in rows] == [
        ("●", w),
        ("●", "a"),
        ("◷", "b"),
        ("ǁ", "c"),
    ]
    assert rows[1].duration == "2m3s"
    assert "Running (Suspended)" in render_text(wf)


def test_on_exit_tree_follows_main_tree_after_blank_line():
    wf = steps_wf()
    w = wf["metadata"]["name"]
    wf["status"]["nodes"]["exit"] = node(
        "exit", f"{w}.onExit", "Pod", template="cleanup", start=6, end=7
    )
    rows = node_tree(wf)
    assert rows[-1].display_name == "onExit" and rows[-1].on_exit
    assert not any(r.on_exit for r in rows[:-1])
    lines = tree_lines(wf)
    assert lines[-2] == "" and lines[-1].startswith(" ✔ onExit")


def test_missing_root_gives_no_tree_but_header_still_renders():
    wf = workflow("pending-wf", [], phase="Pending")
    wf["status"]["nodes"] = {}
    assert node_tree(wf) == []
    text = render_text(wf)
    assert "pending-wf" in text and "STEP" not in text


# --- render_workflow ---


def test_render_header_and_tree_columns():
    wf = steps_wf()
    wf["spec"]["arguments"] = {"parameters": [{"name": "message", "value": "hi there"}]}
    wf["status"]["progress"] = "3/3"
    text = render_text(wf)
    for label, value in [
        ("Name:", "steps-x7k2p"),
        ("Namespace:", "default"),
        ("Status:", "Succeeded"),
        ("Duration:", "5 seconds"),
        ("Progress:", "3/3"),
        ("message:", "hi there"),
    ]:
        assert any(line.split()[:1] == [label] and value in line for line in text.splitlines()), (
            label
        )
    assert "(5 minutes ago)" in text  # Created/Started relative to the fixed now
    header, *body = tree_lines(wf)
    assert header.split() == ["STEP", "TEMPLATE", "PODNAME", "DURATION", "MESSAGE"]
    assert body[1].split() == ["├───✔", "hello1", "whalesay", "steps-x7k2p-whalesay-h1", "1s"]


def test_failed_node_message_and_workflow_message_are_shown():
    wf = retry_wf()
    wf["status"]["phase"] = "Failed"
    wf["status"]["message"] = "child 'r0' failed"
    text = render_text(wf)
    assert "child 'r0' failed" in text
    line = next(li for li in tree_lines(wf) if "flaky(0)" in li)
    assert line.rstrip().endswith("Error (exit code 1)")
    assert "3s" in line.split()


def test_wide_adds_inputs_outputs_result_exit_code():
    wf = steps_wf()
    h1 = wf["status"]["nodes"]["h1"]
    h1["inputs"] = {"parameters": [{"name": "who", "value": "world"}]}
    h1["outputs"] = {
        "parameters": [{"name": "greeting", "value": "hello world"}],
        "result": "line1\nline2",
        "exitCode": "0",
        "artifacts": [{"name": "log"}],
    }
    narrow = tree_lines(wf)
    assert "who=world" not in "\n".join(narrow)
    header, *body = tree_lines(wf, wide=True, width=200)
    assert header.split() == [
        "STEP",
        "TEMPLATE",
        "PODNAME",
        "DURATION",
        "INPUTS",
        "OUTPUTS",
        "EXITCODE",
        "ARTIFACTS",
        "MESSAGE",
    ]
    text = "\n".join(body)
    assert "who=world" in text
    assert "greeting=hello" in text
    assert "result=line1⏎line2" in text
    row = next(r for r in node_tree(wf) if r.id == "h1")
    assert row.exit_code == "0" and row.artifacts == ("log",)
    assert row.outputs == (("greeting", "hello world"),) and row.result == "line1\nline2"


def test_wide_tree_fits_80_columns_with_whole_titles():
    """At 80 columns the nine wide columns cannot all fit: titles stay whole, the least telling
    columns are left out (and named), and long cells are elided rather than wrapped."""
    wf = steps_wf()
    wf["status"]["nodes"]["h1"]["inputs"] = {"parameters": [{"name": "who", "value": "w" * 60}]}
    wf["status"]["nodes"]["h1"]["message"] = "a long message " * 8
    lines = render_text(wf, width=80, wide=True).splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("STEP"))
    note = "(not shown at 80 columns: "
    assert lines[-1].startswith(note)
    left_out = lines[-1].removeprefix(note).removesuffix(")").split(", ")
    assert "ARTIFACTS" in left_out and "INPUTS" not in left_out
    assert sorted(header.split() + left_out) == sorted(
        ["STEP", "TEMPLATE", "PODNAME", "DURATION", "INPUTS", "OUTPUTS", "EXITCODE",
         "ARTIFACTS", "MESSAGE"])
    hello1 = next(line for line in lines if "hello1" in line)
    assert "who=wwww" in hello1 and hello1.split()[-5].endswith("…")
    # The message wraps in its column instead of being cut.
    assert "".join(line[header.index("MESSAGE"):].strip() for line in lines
                   if len(line) > header.index("MESSAGE")).count("long") == 8
    # Wide enough, nothing is left out or elided.
    roomy = render_text(wf, width=400, wide=True)
    assert "not shown" not in roomy and "who=" + "w" * 39 + "…" in roomy


def test_fit_widths_narrows_the_widest_first():
    assert fit_widths([10, 30, 50], [4, 4, 4], 90) == [10, 30, 50]
    assert fit_widths([10, 30, 50], [4, 4, 4], 60) == [10, 25, 25]
    assert fit_widths([10, 30, 50], [4, 4, 40], 60) == [10, 10, 40]


def test_colours_by_phase():
    console = Console(file=StringIO(), width=120, color_system="standard", force_terminal=True)
    console.print(render_workflow(retry_wf(), now=NOW))
    out = console.file.getvalue()
    assert "\x1b[32m✔" in out  # green success icon
    assert "\x1b[31m✖" in out  # red failure icon
    console = Console(file=StringIO(), width=120, color_system="standard", force_terminal=True)
    console.print(render_workflow(dag_loop_wf(), now=NOW))
    assert "\x1b[2m" in console.file.getvalue()  # skipped row dimmed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1.9, "1s"),
        (59, "59s"),
        (60, "1m"),
        (123, "2m3s"),
        (3720, "1h2m"),
        (7200, "2h"),
        (90000, "1d1h"),
        (-5, "0s"),
    ],
)
def test_format_duration(seconds: float, text: str):
    assert format_duration(seconds) == text


# --- PlainProgress ---


def snapshots() -> list[dict[str, Any]]:
    """hello-world: step1 Pending -> Running -> Succeeded, step2 Running -> Failed."""
    w = "hello-world-x7k2p"
    root = node(w, w, "Steps", "Running", children=("g0",), template="main", end=None)
    g0 = node(
        "g0",
        f"{w}[0]",
        "StepGroup",
        "Running",
        boundary=w,
        children=("s1", "s2"),
        template="main",
        end=None,
    )
    s1 = node("s1", f"{w}[0].step1", "Pod", "Pending", boundary=w, start=1, end=None)
    base = workflow(w, [root, g0, s1], phase="Running")
    seq = [copy.deepcopy(base)]
    nodes = base["status"]["nodes"]
    nodes["s1"]["phase"] = "Running"
    seq.append(copy.deepcopy(base))
    seq.append(copy.deepcopy(base))  # no change at all
    nodes["s2"] = node("s2", f"{w}[0].step2", "Pod", "Running", boundary=w, start=2, end=None)
    seq.append(copy.deepcopy(base))
    nodes["s1"].update(phase="Succeeded", finishedAt=ts(2))
    nodes["s2"].update(phase="Failed", finishedAt=ts(4), message="exit code 1")
    for n in (nodes[w], nodes["g0"]):
        n.update(phase="Failed", finishedAt=ts(4))
    base["status"].update(phase="Failed", finishedAt=ts(4))
    seq.append(copy.deepcopy(base))
    seq.append(copy.deepcopy(base))  # terminal snapshot repeated
    return seq


EXPECTED_LINES = [
    "2026-11-27T13:40:01Z hello-world-x7k2p[0].step1 (whalesay) Pending",
    "2026-11-27T13:40:01Z hello-world-x7k2p[0].step1 (whalesay) Running",
    "2026-11-27T13:40:02Z hello-world-x7k2p[0].step2 (whalesay) Running",
    "2026-11-27T13:40:02Z hello-world-x7k2p[0].step1 (whalesay) Succeeded 1s",
    "2026-11-27T13:40:04Z hello-world-x7k2p[0].step2 (whalesay) Failed 2s: exit code 1",
    "Workflow hello-world-x7k2p Failed in 4s",
]


def test_plain_progress_one_line_per_transition_scanning_all_nodes():
    out = StringIO()
    progress = PlainProgress(out)
    for wf in snapshots():
        progress.update(wf)
    assert out.getvalue().splitlines() == EXPECTED_LINES


def test_plain_progress_with_changed_ids_only_looks_at_those():
    out = StringIO()
    progress = PlainProgress(out)
    changed = [["s1"], ["s1"], [], ["s2"], ["s1", "s2", "g0"], []]
    for wf, ids in zip(snapshots(), changed, strict=True):
        progress.update(wf, changed=ids)
    assert out.getvalue().splitlines() == EXPECTED_LINES
    # A node not named in `changed` is not inspected, even if its phase moved.
    out2 = StringIO()
    other = PlainProgress(out2)
    other.update(snapshots()[-1], changed=[])
    assert out2.getvalue().splitlines() == ["Workflow hello-world-x7k2p Failed in 4s"]


def test_plain_progress_close_reports_unfinished_workflow_once():
    out = StringIO()
    progress = PlainProgress(out, now=lambda: datetime(2026, 11, 27, 13, 40, 9, tzinfo=UTC))
    wf = snapshots()[1]
    with progress:
        progress.update(wf)
        progress.close(wf)
        progress.close(wf)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "Workflow hello-world-x7k2p Running in 9s"
    assert sum(line.startswith("Workflow ") for line in lines) == 1


def test_plain_progress_defaults_to_stderr(capsys: pytest.CaptureFixture[str]):
    PlainProgress().update(snapshots()[0])
    captured = capsys.readouterr()
    assert captured.out == "" and "[0].step1 (whalesay) Pending" in captured.err


# --- LiveView ---


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_live_view_throttles_bursts_of_updates():
    clock = FakeClock()
    console = Console(file=StringIO(), width=120, color_system=None)
    wf = steps_wf()
    with LiveView(console, clock=clock) as view:
        for _ in range(10_000):  # 10,000 updates over 1.25 simulated seconds
            view.update(wf)
            clock.t += 0.000125
        assert 9 <= view.redraws <= 11
        burst = view.redraws
        view.update(wf)  # still inside the current frame: remembered, not drawn
        view.flush()
        assert view.redraws == burst + 1


def test_live_view_real_clock_bound_and_final_tree_printed_once():
    console = Console(file=StringIO(), width=120, color_system=None)
    wf = steps_wf()
    view = LiveView(console)
    started = time.monotonic()
    with view:
        for _ in range(10_000):
            view.update(wf)
        elapsed = time.monotonic() - started
    assert view.redraws <= elapsed * 8 + 2
    out = console.file.getvalue()
    assert out.count("Name:") == 1 and out.count("hello2b") == 1


def test_live_view_close_uses_final_workflow_on_a_terminal():
    console = Console(file=StringIO(), width=120, color_system=None, force_terminal=True)
    view = LiveView(console)
    view.update(snapshots()[0])
    final = snapshots()[-1]
    view.close(final)
    view.close(final)  # idempotent
    out = console.file.getvalue()
    assert view.redraws == 1
    assert out.count("Status:") >= 2  # one live frame and the final print
    # Only the final workflow has step2's failure, and it is printed exactly once.
    assert out.count("exit code 1") == 1


# --- scale ---


def big_dag(n: int) -> dict[str, Any]:
    """A DAG of n pods: every 100th task fans out a TaskGroup loop of 10 items."""
    w = "big"
    nodes = [node(w, w, "DAG", template="main", end=n)]
    i = 0
    while len(nodes) < n:
        if i % 100 == 0:
            group = f"{w}-g{i}"
            items = [f"{group}-{k}" for k in range(10)]
            nodes.append(
                node(
                    group,
                    f"{w}.loop{i}",
                    "TaskGroup",
                    boundary=w,
                    children=tuple(items),
                    start=i % 600,
                    end=i % 600 + 1,
                )
            )
            nodes += [
                node(
                    item, f"{w}.loop{i}({k}:{k})", "Pod", boundary=w, start=i % 600, end=i % 600 + 1
                )
                for k, item in enumerate(items)
            ]
        else:
            nodes.append(
                node(f"{w}-{i}", f"{w}.t{i}", "Pod", boundary=w, start=i % 600, end=i % 600 + 1)
            )
        i += 1
    return workflow(w, nodes)


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def linear_baseline(wf: dict[str, Any]) -> None:
    """Touch every node a few times the way any linear renderer must."""
    out = []
    for nid, n in wf["status"]["nodes"].items():
        start = datetime.fromisoformat(n["startedAt"])
        out.append((nid, n.get("boundaryID"), n.get("displayName"), start, n.get("phase")))
    out.sort(key=lambda t: t[3])


def test_node_tree_scales_linearly_on_10k_nodes():
    small, large = big_dag(2_000), big_dag(10_000)
    rows = node_tree(large)
    drawn = [n for n in large["status"]["nodes"].values() if n["type"] != "TaskGroup"]
    assert len(rows) == len(drawn)  # every node except the TaskGroup wrappers
    t_small = best_of(lambda: node_tree(small))
    t_large = best_of(lambda: node_tree(large))
    t_base = best_of(lambda: linear_baseline(large))
    # 5x the nodes: linear work grows ~5x, a quadratic pass would grow ~25x.
    assert t_large < 12 * t_small, (t_small, t_large)
    # Within a constant factor of a trivial per-node pass over the same data.
    assert t_large < 60 * t_base, (t_base, t_large)


def test_max_rows_keeps_root_and_newest_rows():
    wf = big_dag(300)
    rows = node_tree(wf)
    lines = tree_lines(wf, max_rows=20, collapse=None)
    assert len(lines) == 1 + 20  # heading + 20 tree lines
    assert lines[1].startswith(" ✔ big")
    hidden = len(rows) - 19
    assert lines[2].strip() == f"… {hidden} earlier rows not shown"
    assert lines[-1].startswith(rows[-1].prefix + rows[-1].icon + " " + rows[-1].display_name)
    assert len(tree_lines(wf, collapse=None)) == 1 + len(rows)  # no limit: every row


def test_live_view_draws_only_what_fits_on_screen():
    console = Console(file=StringIO(), width=120, height=40, color_system=None, force_terminal=True)
    view = LiveView(console, collapse=None)
    view.update(big_dag(10_000))
    assert view.redraws == 1
    frame = console.file.getvalue()
    assert "earlier rows not shown" in frame
    assert frame.count("\n") < 60
    view.close(steps_wf())


def loop_wf(width: int, failed: tuple[int, ...] = ()) -> dict[str, Any]:
    """One step looping over ``width`` items in one StepGroup; the ``failed`` ones failed."""
    w = "loop-5x"
    items = [f"i{k}" for k in range(width)]
    return workflow(w, [
        node(w, w, "Steps", children=("sg0",), template="main", end=5),
        node("sg0", f"{w}[0]", "StepGroup", boundary=w, children=tuple(items), template="main"),
        *(node(item, f"{w}[0].s({k}:{k})", "Pod", "Failed" if k in failed else "Succeeded",
               boundary=w, start=k) for k, item in enumerate(items)),
    ])


def test_a_big_group_is_collapsed_to_what_did_not_succeed_and_a_count():
    wf = loop_wf(50, failed=(7, 31))
    assert steps(node_tree(wf, now=NOW, collapse=20)) == [
        " ✔ loop-5x",
        " └─┬─✖ s(7:7)",
        "   ├─✖ s(31:31)",
        "   └─… 48 more (48 Succeeded); --expand shows them",
    ]
    lines = tree_lines(wf)  # what `argosy get` and the live view draw by default
    assert len(lines) == 1 + 4 and "48 more (48 Succeeded)" in lines[-1]
    assert len(tree_lines(wf, collapse=None)) == 1 + 1 + 50  # expanded: every node


def test_a_group_of_up_to_twenty_is_drawn_whole():
    assert len(node_tree(loop_wf(20), now=NOW, collapse=20)) == 1 + 20


def test_a_collapsed_group_keeps_at_most_twenty_that_did_not_succeed():
    rows = node_tree(loop_wf(100, failed=tuple(range(0, 100, 2))), now=NOW, collapse=20)
    assert len(rows) == 1 + 20 + 1
    assert rows[-1].display_name == "80 more (30 Failed, 50 Succeeded); --expand shows them"


# --- plain-text layout (output that is not a terminal) ---


def tricky_wf(*more: dict[str, Any]) -> dict[str, Any]:
    """Cells rich would treat specially: markup and emoji codes in strings, wide characters,
    joined graphemes, control characters; and ``more``."""
    w = "tricky"
    return workflow(w, [
        node(w, w, "Steps", children=("sg0",), template="main", end=5),
        node("sg0", f"{w}[0]", "StepGroup", boundary=w, template="main",
             children=("a", "b", "c", *(n["id"] for n in more))),
        node("a", f"{w}[0].标记", "Pod", boundary=w, template="[bold]t[/bold]",
             inputs={"parameters": [{"name": "p", "value": ":thumbs_up: [red]x"}]}),
        node("b", f"{w}[0].cloud☁️", "Pod", "Failed", boundary=w, start=1,
             message="bad\x1b[31m exit\x07 (exit code 1)"),
        node("c", f"{w}[0].fam👨‍👩‍👧", "Pod", boundary=w, start=1, template="a:b:c"),
        *more,
    ])


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "rich"])
def test_names_and_values_are_shown_as_written_not_as_markup(
        terminal: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = tricky_wf()
    wf["status"]["message"] = "[red]not red[/red] :b:"

    def render() -> str:
        return render_text(wf, width=250, wide=True, collapse=None)

    shown = through_rich(monkeypatch, render) if terminal else render()
    for written in ("a:b:c", "[bold]t[/bold]", ":thumbs_up: [red]x", "[red]not red[/red] :b:"):
        assert written in shown
    assert "🅱" not in shown and "👍" not in shown


def wrapping_wf() -> dict[str, Any]:
    """A tab, and a message longer than a line: rich's own Table draws these."""
    return tricky_wf(
        node("d", "tricky[0].tab", "Pod", boundary="tricky", start=2, message="col1\tcol2"),
        node("e", "tricky[0].long", "Pod", "Error", boundary="tricky", start=3,
             message="word " * 60))


def through_rich(monkeypatch: pytest.MonkeyPatch, render: Any) -> str:
    """What rich's own Table draws, the plain layout switched off."""
    from argosy.cli.render import FitTable

    with monkeypatch.context() as patch:
        patch.setattr(FitTable, "_plain_lines", lambda *args: None)
        return render()


@pytest.mark.parametrize("width", [60, 80, 120, 250])
@pytest.mark.parametrize("wide", [False, True], ids=["plain", "wide"])
def test_plain_layout_is_what_rich_draws(width: int, wide: bool,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [steps_wf(), dag_loop_wf(), retry_wf(), big_dag(300), loop_wf(50, failed=(7,)),
             tricky_wf(), wrapping_wf(), *snapshots()]
    for wf in cases:
        for collapse in (20, None):
            def render(wf: dict[str, Any] = wf, collapse: int | None = collapse) -> str:
                return render_text(wf, width=width, wide=wide, collapse=collapse)

            assert render() == through_rich(monkeypatch, render), wf["metadata"]["name"]


def test_a_table_that_is_not_for_a_terminal_is_laid_out_without_rich(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich takes half a millisecond a row: 52 s for `argosy get --expand` of 100,000 nodes."""
    from argosy.cli.render import FitTable

    def no_table(*args: Any) -> None:
        raise AssertionError("laid out by a rich Table")

    monkeypatch.setattr(FitTable, "_table", no_table)
    assert len(tree_lines(big_dag(3_000), collapse=None)) == 1 + len(node_tree(big_dag(3_000)))
    assert "[bold]t[/bold]" in render_text(tricky_wf(), width=250, wide=True)  # as written
    with pytest.raises(AssertionError, match="rich Table"):  # a terminal's has styles
        Console(file=StringIO(), width=120, force_terminal=True).print(
            render_workflow(steps_wf(), now=NOW))


def test_siblings_of_one_start_sort_as_the_comparison_orders_them() -> None:
    """Runs of one start are sorted with a key when all or none have a loop index; mixed runs
    by the comparison: the order is the one a sort by the comparison alone gives."""
    import functools
    import random

    from argosy.cli.render import _sibling_cmp, _sort_siblings

    rng = random.Random(7)
    names = ["a", "b", "zz", "t(0:x)", "t(1:y)", "t(2:z)", "t(10:w)", "u(3:v)"]
    for _ in range(200):
        picked = [rng.choice(names) for _ in range(rng.randint(2, 12))]
        nodes = {f"n{i}": {"displayName": name, "startedAt": ts(rng.randint(0, 2))}
                 for i, name in enumerate(picked)}
        keyed = [((datetime.fromisoformat(n["startedAt"]), render_index(n["displayName"]),
                   n["displayName"]), nid) for nid, n in nodes.items()]
        expected = [nid for _, nid in sorted(
            keyed, key=functools.cmp_to_key(lambda x, y: _sibling_cmp(x[0], y[0])))]
        assert _sort_siblings(list(nodes), nodes) == expected, picked


def render_index(name: str) -> int:
    from argosy.cli.render import _loop_index

    return _loop_index(name)
