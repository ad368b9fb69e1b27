"""Loop expansion against Argo's controller (operator.go: processItem, generateNodeName,
expandSequence; steps.go/dag.go: withParam parsing).

Argo's own vectors from ``Test_processItem`` (operator_test.go) are used where they exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from argosy.engine.loops import LoopError, expand, expand_sequence, item_label, items_of
from argosy.expr.substitute import Scope
from argosy.spec.models import Sequence, Step


def step(**fields: Any) -> Step:
    return Step.model_validate({"name": "s", "template": "t", **fields})


def seq(**fields: Any) -> Sequence:
    return Sequence.model_validate(fields)


# ---- items_of -----------------------------------------------------------------------------------


def test_items_of_with_items_keeps_types() -> None:
    assert items_of(step(withItems=["a", 1, 2.5, True, {"k": "v"}, [1, 2]])) == \
        ["a", 1, 2.5, True, {"k": "v"}, [1, 2]]


def test_items_of_with_param_parses_a_json_list() -> None:
    assert items_of(step(withParam=' ["a", {"b": 1}, 3]\n')) == ["a", {"b": 1}, 3]
    assert items_of(step(withParam="[]")) == []


def test_items_of_with_sequence() -> None:
    assert items_of(step(withSequence={"count": "3"})) == ["0", "1", "2"]


def test_items_of_plain_step_is_empty() -> None:
    assert items_of(step()) == []


def test_with_param_that_is_not_json() -> None:
    with pytest.raises(LoopError) as info:
        items_of(step(withParam="  not json \n"))
    # Argo: "withParam value could not be parsed as a JSON list: %s: %v" (value trimmed).
    assert str(info.value).startswith(
        "withParam value could not be parsed as a JSON list: not json: ")


def test_with_param_that_is_json_but_not_a_list() -> None:
    with pytest.raises(LoopError) as info:
        items_of(step(withParam='{"a": 1}'))
    assert str(info.value).startswith(
        'withParam value could not be parsed as a JSON list: {"a": 1}: ')


# ---- expand_sequence ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "items"), [
    ({"count": 5}, ["0", "1", "2", "3", "4"]),
    ({"count": "2", "start": "10"}, ["10", "11"]),
    ({"start": 3, "end": 6}, ["3", "4", "5", "6"]),
    ({"start": "5", "end": "2"}, ["5", "4", "3", "2"]),
    ({"end": 0}, ["0"]),
    ({"start": -1, "end": 1}, ["-1", "0", "1"]),
    ({"count": 0}, []),
    ({"count": "0", "start": 7}, []),
    ({"start": 9, "end": 12, "format": "testuser%02X"}, ["testuser09", "testuser0A",
                                                         "testuser0B", "testuser0C"]),
    ({"count": 2, "format": "%d"}, ["0", "1"]),
    ({"count": 3, "start": 8, "format": "%03d"}, ["008", "009", "010"]),
    ({"count": 2, "format": "%x-%%"}, ["0-%", "1-%"]),
    ({"count": 1, "start": 255, "format": "0x%04x"}, ["0x00ff"]),
])
def test_expand_sequence(fields: dict[str, Any], items: list[str]) -> None:
    assert expand_sequence(seq(**fields)) == items


def test_sequence_with_count_and_end_is_an_error() -> None:
    with pytest.raises(LoopError, match="only one of count or end can be defined"):
        expand_sequence(seq(count=2, end=5))


def test_sequence_with_neither_count_nor_end_is_an_error() -> None:
    with pytest.raises(LoopError, match=r"count.*end|end.*count"):
        expand_sequence(seq(start=2))


def test_sequence_with_a_non_integer_is_an_error() -> None:
    with pytest.raises(LoopError, match="count"):
        expand_sequence(seq(count="three"))


# ---- item_label (the "(i:label)" of a loop node's name) -----------------------------------------


@pytest.mark.parametrize(("item", "label"), [
    ("string", "string"),
    ("with space", "with space"),
    (42, "42"),
    (-3, "-3"),
    (2.5, "2.5"),
    (2.0, "2"),
    (True, "true"),
    (False, "false"),
    ({"os": "linux", "arch": "amd64"}, "arch:amd64,os:linux"),
    ({"b": 2, "a": True}, "a:true,b:2"),
    ({}, ""),
])
def test_item_label(item: Any, label: str) -> None:
    assert item_label(item) == label


def test_item_label_map_with_nested_values_as_argo() -> None:
    item = {"number": 2, "string": "foo", "list": [0, "1"],
            "json": {"number": 2, "string": "foo", "list": [0, "1"]}}
    assert item_label(item) == (
        'json:{"list":[0,"1"],"number":2,"string":"foo"},list:[0,"1"],number:2,string:foo')


def test_item_label_list_as_argo() -> None:
    assert item_label([1, "two", 3]) == "[1 two 3]"


def test_item_label_drops_parentheses() -> None:
    assert item_label("f(x)") == "fx"


def test_item_label_escapes_like_json() -> None:
    assert item_label("alpha\nbeta") == "alpha\\nbeta"


# ---- expand -------------------------------------------------------------------------------------


def expanded(raw: dict[str, Any], scope: Scope | None = None) -> list[tuple[str, Any]]:
    raw = {"name": "s", "template": "t", **raw}
    return expand(raw, Step.model_validate(raw), scope or Scope())


def test_expand_substitutes_item_and_drops_the_loop_field() -> None:
    runs = expanded({
        "arguments": {"parameters": [{"name": "p", "value": "{{item}}"},
                                     {"name": "q", "value": "[{{ item }}]"}]},
        "withItems": ["a", 2, False],
    })
    assert [suffix for suffix, _ in runs] == ["(0:a)", "(1:2)", "(2:false)"]
    assert runs[1][1] == {"name": "s", "template": "t", "arguments": {"parameters": [
        {"name": "p", "value": "2"}, {"name": "q", "value": "[2]"}]}}
    assert [r[1]["arguments"]["parameters"][0]["value"] for r in runs] == ["a", "2", "false"]


def test_expand_item_fields_of_map_items() -> None:
    runs = expanded({
        "arguments": {"parameters": [{"name": "os", "value": "{{item.os}}"},
                                     {"name": "v", "value": "{{item.version}}"},
                                     {"name": "n", "value": "{{item.nested}}"}]},
        "withItems": [{"os": "debian", "version": 9, "nested": {"k": "v"}}],
    })
    # The name's label for nested values is covered by the item_label tests.
    ((_, body),) = runs
    assert [p["value"] for p in body["arguments"]["parameters"]] == ["debian", "9", '{"k":"v"}']


def test_expand_keeps_other_tags_and_uses_the_scope() -> None:
    scope = Scope({"inputs": {"parameters": {"x": "X"}}})
    runs = expanded({
        "when": "{{item}} != skip",
        "arguments": {"parameters": [{"name": "p", "value": "{{inputs.parameters.x}}-{{item}}"},
                                     {"name": "q", "value": "{{steps.a.outputs.result}}"}]},
        "withParam": '["one", "skip"]',
    }, scope)
    assert [s for s, _ in runs] == ["(0:one)", "(1:skip)"]
    assert runs[0][1]["when"] == "one != skip"
    assert runs[1][1]["arguments"]["parameters"] == [
        {"name": "p", "value": "X-skip"}, {"name": "q", "value": "{{steps.a.outputs.result}}"}]
    assert "withParam" not in runs[0][1]


def test_expand_with_sequence_items_are_strings() -> None:
    runs = expanded({"arguments": {"parameters": [{"name": "p", "value": "{{item}}"}]},
                     "withSequence": {"start": "1", "end": "2", "format": "u%d"}})
    assert [(s, b["arguments"]["parameters"][0]["value"]) for s, b in runs] == \
        [("(0:u1)", "u1"), ("(1:u2)", "u2")]


def test_expand_empty_loop() -> None:
    assert expanded({"withParam": "[]"}) == []


def test_expand_whole_map_item_is_sorted_json() -> None:
    runs = expanded({"arguments": {"parameters": [{"name": "p", "value": "{{item}}"}]},
                     "withItems": [{"b": "2", "a": "1"}]})
    assert runs[0][1]["arguments"]["parameters"][0]["value"] == '{"a":"1","b":"2"}'


def test_with_param_number_keeps_its_json_text() -> None:
    runs = expanded({"arguments": {"parameters": [{"name": "p", "value": "{{item}}"}]},
                     "withParam": "[1.0]"})
    assert runs == [("(0:1.0)", {"name": "s", "template": "t", "arguments": {
        "parameters": [{"name": "p", "value": "1.0"}]}})]
