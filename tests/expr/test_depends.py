"""Enhanced `depends` logic for DAG tasks."""

import pytest

from argosy.errors import ExpressionError
from argosy.expr import Depends, TaskState, dependencies_to_depends, parse_depends

PHASES = ["Succeeded", "Failed", "Error", "Skipped", "Omitted"]


def run(text: str, **states: TaskState) -> bool:
    return parse_depends(text).evaluate(lambda name: states[name.replace("-", "_")])


def test_tasks_are_collected():
    d = parse_depends("A && (C.Succeeded || C.Failed) || !should-execute-1.Errored")
    assert isinstance(d, Depends)
    assert d.tasks == frozenset({"A", "C", "should-execute-1"})


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Succeeded", True),
        ("Skipped", True),
        ("Failed", False),
        ("Error", False),
        ("Omitted", False),
        ("Running", False),
    ],
)
def test_bare_name_means_succeeded_skipped_or_daemoned(phase, expected):
    assert run("A", A=TaskState(phase)) is expected


def test_bare_name_accepts_a_running_daemon():
    assert run("A", A=TaskState("Running", daemoned=True)) is True
    assert run("A", A=TaskState("Pending", daemoned=True)) is False


def test_bare_name_honours_continue_on():
    assert run("A", A=TaskState("Failed", continued=True)) is True
    assert run("A", A=TaskState("Error", continued=True)) is True
    assert run("A.Succeeded", A=TaskState("Failed", continued=True)) is False
    assert run("A.Failed", A=TaskState("Failed", continued=True)) is True


@pytest.mark.parametrize(
    ("result", "phase"),
    [
        ("Succeeded", "Succeeded"),
        ("Failed", "Failed"),
        ("Errored", "Error"),
        ("Skipped", "Skipped"),
        ("Omitted", "Omitted"),
    ],
)
def test_each_result_matches_only_its_phase(result, phase):
    # Argo's dag_test checks `same.<Result>` and `!same.<Result>` against every phase.
    for other in PHASES:
        assert run(f"same.{result}", same=TaskState(other)) is (other == phase)
        assert run(f"!same.{result}", same=TaskState(other)) is (other != phase)


def test_daemoned_result():
    assert run("A.Daemoned", A=TaskState("Running", daemoned=True)) is True
    assert run("A.Daemoned", A=TaskState("Succeeded")) is False


def test_any_succeeded_and_all_failed_look_at_loop_children():
    group = TaskState("Failed", children=("Failed", "Succeeded", "Failed"))
    assert run("A.AnySucceeded", A=group) is True
    assert run("A.AllFailed", A=group) is False
    failed = TaskState("Failed", children=("Failed", "Failed"))
    assert run("B.AllFailed", B=failed) is True
    assert run("B.AnySucceeded", B=failed) is False
    assert run("C.AllFailed", C=TaskState("Failed")) is False  # not a group: no children


def test_documented_example():
    # docs: depends: "A && (C.Succeeded || C.Failed)"
    text = "A && (C.Succeeded || C.Failed)"
    assert run(text, A=TaskState("Succeeded"), C=TaskState("Failed")) is True
    assert run(text, A=TaskState("Succeeded"), C=TaskState("Error")) is False
    assert run(text, A=TaskState("Failed"), C=TaskState("Succeeded")) is False


def test_hyphenated_names_and_or():
    text = "should-execute-2.Succeeded || should-not-execute"
    assert (
        run(text, should_execute_2=TaskState("Failed"), should_not_execute=TaskState("Skipped"))
        is True
    )
    assert (
        run(text, should_execute_2=TaskState("Failed"), should_not_execute=TaskState("Failed"))
        is False
    )


def test_precedence_and_binds_tighter_than_or():
    states = {"A": TaskState("Succeeded"), "B": TaskState("Failed"), "C": TaskState("Failed")}
    assert run("A || B && C", **states) is True
    assert run("(A || B) && C", **states) is False
    assert run("!A || B", **states) is False
    assert run("!(A && B)", **states) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B.Failed && C", True),
        ("B || C", True),
        ("b2 && b3 && b4", False),
        ("stage-a && (stage-b || stage-b.Skipped)", True),
        ("producer.Succeeded || producer.Skipped", True),
    ],
)
def test_example_depends(text, expected):
    states = {
        "B": TaskState("Failed"),
        "C": TaskState("Succeeded"),
        "b2": TaskState("Succeeded"),
        "b3": TaskState("Succeeded"),
        "b4": TaskState("Error"),
        "stage_a": TaskState("Succeeded"),
        "stage_b": TaskState("Skipped"),
        "producer": TaskState("Skipped"),
    }
    assert run(text, **states) is expected


def test_empty_depends_is_always_satisfied():
    d = parse_depends("")
    assert d.tasks == frozenset()
    assert d.evaluate(lambda name: pytest.fail("no task should be looked up")) is True


def test_dependencies_list_is_all_of_them():
    text = dependencies_to_depends(["A", "B-1"])
    assert text == "A && B-1"
    d = parse_depends(text)
    assert d.tasks == frozenset({"A", "B-1"})
    assert d.evaluate(lambda n: TaskState("Succeeded" if n == "A" else "Skipped")) is True
    assert d.evaluate(lambda n: TaskState("Succeeded" if n == "A" else "Failed")) is False
    assert dependencies_to_depends([]) == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A &&", "invalid depends 'A &&': unexpected end of expression"),
        ("(A || B", "invalid depends '(A || B': missing ')'"),
        ("A B", "invalid depends 'A B': unexpected 'B' at column 3"),
        ("A & B", "invalid depends 'A & B': unexpected '&' at column 3"),
        ("A)", "invalid depends 'A)': unexpected ')' at column 2"),
    ],
)
def test_syntax_errors(text, message):
    with pytest.raises(ExpressionError) as err:
        parse_depends(text)
    assert str(err.value) == message


def test_unknown_task_result_parses_but_cannot_be_evaluated():
    # Argo's validation (not its parser) rejects unknown results; the linter reports them.
    d = parse_depends("a.Sucess || b")
    assert d.tasks == frozenset({"a", "b"})
    with pytest.raises(ExpressionError) as err:
        d.evaluate(lambda name: TaskState("Succeeded"))
    assert str(err.value) == "task result 'Sucess' for task 'a' is invalid"
