"""``{{…}}`` substitution against Argo's util/template: plain tags, expression tags, scopes."""

from __future__ import annotations

import pytest

from argosy.expr.substitute import (
    MISSING,
    Lazy,
    Leaf,
    Scope,
    Unresolved,
    go_str,
    references,
    substitute,
    substitute_text,
)


@pytest.fixture
def scope() -> Scope:
    return Scope({
        "workflow": {"name": "wf-abc"},
        "inputs": {"parameters": {"x": "3", "a.b": "dotted", "my-param": "hyphen"}},
        "steps": {"step-a": {"outputs": {"result": "from-a"}}},
    })


# ---- Scope --------------------------------------------------------------------------------------


def test_child_scope_sees_its_parent_and_shadows_it() -> None:
    parent = Scope({"a": "parent", "b": "parent-b"})
    child = parent.child({"a": "child"})
    assert child["a"] == "child"
    assert child["b"] == "parent-b"
    assert parent["a"] == "parent"
    assert sorted(child) == ["a", "b"]
    assert len(child) == 2
    with pytest.raises(KeyError):
        child["c"]


def test_set_creates_nested_layers_in_own_scope_only() -> None:
    parent = Scope({"workflow": {"name": "wf"}})
    child = parent.child()
    child.set("workflow.outputs.parameters.p", "v")
    assert child.lookup("workflow.outputs.parameters.p") == "v"
    assert parent.lookup("workflow.outputs.parameters.p") is MISSING
    # The child layer shadows the parent's whole "workflow" mapping.
    assert child.lookup("workflow.name") is MISSING
    assert parent.lookup("workflow.name") == "wf"


def test_set_replaces_a_non_mapping_on_the_way() -> None:
    scope = Scope({"a": "text"})
    scope.set("a.b", "deep")
    assert scope.data == {"a": {"b": "deep"}}


def test_lookup_nested_dotted_and_hyphenated_names(scope: Scope) -> None:
    assert scope.lookup("inputs.parameters.x") == "3"
    # A parameter named "a.b" (Argo allows dots in names) still resolves.
    assert scope.lookup("inputs.parameters.a.b") == "dotted"
    assert scope.lookup("inputs.parameters.my-param") == "hyphen"
    assert scope.lookup("steps.step-a.outputs.result") == "from-a"
    assert scope.lookup("inputs.parameters") == {"x": "3", "a.b": "dotted", "my-param": "hyphen"}


def test_lookup_missing(scope: Scope) -> None:
    assert scope.lookup("inputs.parameters.nope") is MISSING
    assert scope.lookup("nope") is MISSING
    # Walking past a text value finds nothing.
    assert scope.lookup("inputs.parameters.x.y") is MISSING


def test_lookup_top_level_dotted_key() -> None:
    assert Scope({"a.b": "flat", "a": {"c": "nested"}}).lookup("a.b") == "flat"
    assert Scope({"a.b": "flat", "a": {"c": "nested"}}).lookup("a.c") == "nested"


# ---- plain tags ---------------------------------------------------------------------------------


def test_plain_tags_with_and_without_spaces(scope: Scope) -> None:
    assert substitute_text("{{inputs.parameters.x}}", scope) == "3"
    assert substitute_text("{{ inputs.parameters.x }}", scope) == "3"
    assert substitute_text("x={{ inputs.parameters.x}}, wf={{workflow.name }}.", scope) == \
        "x=3, wf=wf-abc."


def test_text_without_tags_is_returned_as_is(scope: Scope) -> None:
    assert substitute_text("plain {text} { {x} }", scope) == "plain {text} { {x} }"


def test_unresolved_plain_tag_stays_verbatim(scope: Scope) -> None:
    text = "a {{ inputs.parameters.nope }} b {{inputs.parameters.x}}"
    assert substitute_text(text, scope) == "a {{ inputs.parameters.nope }} b 3"


def test_strict_raises_unresolved(scope: Scope) -> None:
    with pytest.raises(Unresolved, match=r"failed to resolve \{\{inputs.parameters.nope\}\}"):
        substitute_text("{{inputs.parameters.nope}}", scope, strict=True)


def test_keep_defers_tags_for_a_later_pass(scope: Scope) -> None:
    seen: list[str] = []

    def keep(body: str) -> bool:
        seen.append(body)
        return body.startswith("item") or (body.startswith("=") and "item" in body)

    text = "{{item}} {{ item.a }} {{=item + 'x'}} {{inputs.parameters.x}}"
    assert substitute_text(text, scope, keep=keep) == \
        "{{item}} {{ item.a }} {{=item + 'x'}} 3"
    # Bodies are stripped; expression bodies keep their leading "=".
    assert seen == ["item", "item.a", "=item + 'x'", "inputs.parameters.x"]


def test_a_value_is_not_substituted_again(scope: Scope) -> None:
    # Argo substitutes once: a value that itself looks like a tag is not expanded.
    inner = Scope({"a": "{{b}}", "b": "no"})
    assert substitute_text("{{a}}", inner) == "{{b}}"


def test_substitute_walks_structures_but_not_keys(scope: Scope) -> None:
    obj = {"{{inputs.parameters.x}}": ["{{inputs.parameters.x}}", 4, None, {"k": "{{x}}"}]}
    assert substitute(obj, scope) == {"{{inputs.parameters.x}}": ["3", 4, None, {"k": "{{x}}"}]}


def test_references_lists_plain_tags_only() -> None:
    assert references("{{a.b}} {{= c }} {{ d }}") == ["a.b", "d"]


# ---- expression tags ----------------------------------------------------------------------------


def test_expression_tag(scope: Scope) -> None:
    assert substitute_text("{{=inputs.parameters.x}}", scope) == "3"
    assert substitute_text("{{= asInt(inputs.parameters.x) * 10 }}", scope) == "30"
    assert substitute_text("{{=asFloat(inputs.parameters.x) / 2}}", scope) == "1.5"
    assert substitute_text("{{= inputs.parameters['my-param'] }}", scope) == "hyphen"
    assert substitute_text("{{= workflow.name + '-x' }}", scope) == "wf-abc-x"


def test_expression_sprig(scope: Scope) -> None:
    assert substitute_text("{{=sprig.upper('ab')}}", scope) == "AB"
    assert substitute_text("{{= sprig.trim('  a  ') }}", scope) == "a"


def test_expression_results_render_like_json_marshal(scope: Scope) -> None:
    assert substitute_text("{{= 30.0 }}", scope) == "30"
    assert substitute_text("{{= true }}", scope) == "true"
    assert substitute_text("{{= [1, 'x'] }}", scope) == '[1,"x"]'
    assert substitute_text("{{= 7 / 2 }}", scope) == "3.5"


def test_nil_expression_stays_unresolved_when_not_strict(scope: Scope) -> None:
    assert substitute_text("a{{= nil }}b", scope) == "a{{= nil }}b"
    # A missing member is nil in expr, so it waits for a later pass too.
    assert substitute_text("{{=inputs.parameters.nope}}", scope) == "{{=inputs.parameters.nope}}"


def test_broken_expression_stays_verbatim_unless_strict(scope: Scope) -> None:
    assert substitute_text("{{= 1 + }}", scope) == "{{= 1 + }}"
    with pytest.raises(Exception, match=r"."):
        substitute_text("{{= 1 + }}", scope, strict=True)


def test_strict_nil_expression_is_an_error(scope: Scope) -> None:
    with pytest.raises(Exception, match="failed to evaluate expression"):
        substitute_text("{{= nil }}", scope, strict=True)


def test_expression_map_result_has_sorted_keys(scope: Scope) -> None:
    assert substitute_text("{{= {'b': 1, 'a': 2} }}", scope) == '{"a":2,"b":1}'


def test_expression_small_floats_render_like_go_json(scope: Scope) -> None:
    assert substitute_text("{{= 0.000001 }}", scope) == "0.000001"
    assert substitute_text("{{= 0.0000001 }}", scope) == "1e-7"


# ---- go_str, Leaf, Lazy -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    ("s", "s"),
    (3, "3"),
    (-7, "-7"),
    (30.0, "30"),
    (2.5, "2.5"),
    (1e21, "1e+21"),
    (True, "true"),
    (False, "false"),
    (None, ""),
    ([1, "a", None, True], '[1,"a",null,true]'),
    ({"a": 1, "b": [2.0]}, '{"a":1,"b":[2]}'),
    ({"u": "é"}, '{"u":"é"}'),
])
def test_go_str(value: object, text: str) -> None:
    assert go_str(value) == text


def test_leaf_is_text_whole_and_a_mapping_deeper() -> None:
    params = Leaf('[{"name":"a","value":"1"}]', {"a": "1"})
    scope = Scope({"steps": {"gen": {"outputs": {"parameters": params}}}})
    assert substitute_text("{{steps.gen.outputs.parameters}}", scope) == \
        '[{"name":"a","value":"1"}]'
    assert substitute_text("{{steps.gen.outputs.parameters.a}}", scope) == "1"
    assert go_str({"p": params}) == '{"p":"[{\\"name\\":\\"a\\",\\"value\\":\\"1\\"}]"}'
    assert dict(params) == {"a": "1"}
    assert len(params) == 1


def test_leaf_in_an_expression() -> None:
    # A text-only leaf (an aggregated result) is its text; one with children is navigable
    # (``workflow.parameters.x`` inside ``{{= … }}``).
    scope = Scope({"r": Leaf('["x","y"]', {}), "p": Leaf('[{"name":"a","value":"1"}]',
                                                         {"a": "1"})})
    assert substitute_text("{{= r }}", scope) == '["x","y"]'
    assert substitute_text("{{= jsonpath(r, '$[1]') }}", scope) == "y"
    assert substitute_text("{{= p.a + '!' }}", scope) == "1!"


def test_lazy_is_computed_once_and_only_when_read() -> None:
    calls: list[int] = []

    def compute() -> dict[str, str]:
        calls.append(1)
        return {"result": "r"}

    lazy = Lazy(compute)
    scope = Scope({"steps": {"a": lazy, "b": Lazy(lambda: calls.append(2) or {})}})
    assert calls == []
    assert substitute_text("{{steps.a.result}} {{steps.a.result}}", scope) == "r r"
    assert lazy["result"] == "r"
    assert list(lazy) == ["result"]
    assert len(lazy) == 1
    assert calls == [1]


def test_lazy_empty_mapping_is_cached_too() -> None:
    calls: list[int] = []
    lazy = Lazy(lambda: calls.append(1) or {})
    assert len(lazy) == 0
    assert list(lazy) == []
    assert calls == [1]


def test_expression_tags_with_quotes_and_commas_in_a_multiline_when() -> None:
    # Issue example: each {{= … }} tag is evaluated first, then the govaluate rule.
    from argosy.expr import evaluate_when

    when = """"{{= get(item, 'type') ?? 'always' }}" in
("{{= inputs.parameters.list | fromJSON() | join('","') }}","")
"""
    outcomes = []
    for item in ({"type": "a"}, {"type": "c"}, {"name": "x"}):
        local = Scope({"item": item, "inputs": {"parameters": {"list": '["a","always"]'}}})
        text = substitute_text(when, local, strict=True)
        outcomes.append((text.splitlines()[0], evaluate_when(text)))
    assert outcomes == [('"a" in', True), ('"c" in', False), ('"always" in', True)]
