"""The expr language of `{{= … }}` tags and `expression` fields."""

import base64
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from argosy.errors import ExpressionError
from argosy.expr import BUILTIN_FUNCTIONS, evaluate_expr

CONFIG = (
    '{"employees": [{"name": "Baris", "age":43},{"name": "Mo", "age": 42}, '
    '{"name": "Jai", "age" :44}]}'
)
WEATHER = '{"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="}'

ENV = {
    "inputs": {
        "parameters": {
            "should-print": "true",
            "foo": "5",
            "num": "3",
            "week-temps": '{"avg":35.8,"max":57,"min":15}',
            "my-float-param": "2.5",
        }
    },
    "workflow": {
        "name": "wf-abc",
        "status": "Running",
        "creationTimestamp": "2023-06-15T12:00:00Z",
        "parameters": {
            "json": '[{"value": "true"}]',
            "config": CONFIG,
            "weather": WEATHER,
            "foo": "bar",
        },
    },
    "steps": {
        "flip-coin": {"outputs": {"result": "heads"}},
        "heads": {"outputs": {"result": "it was heads"}},
        "tails": {"outputs": {"result": "it was tails"}},
        "fibonacci-helper": {"outputs": {"parameters": {"result": "8"}}},
        "step-1": {"status": "Running"},
        "step2": {"status": "Succeeded"},
    },
    "tasks": {
        "flip-coin": {"outputs": {"result": "tails"}},
        "heads": {"outputs": {"result": "it was heads"}},
        "tails": {"outputs": {"result": "it was tails"}},
    },
    "data": ["logs/a/main.log", "logs/b/other.log", "logs/main.log"],
    "lastRetry": {
        "exitCode": "2",
        "status": "Failed",
        "duration": "10",
        "message": "pod deleted",
    },
    "item": {"name": "x"},
}


def ev(source, env=ENV, functions=None):
    return evaluate_expr(source, env, functions)


# --- Argo's examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("inputs.parameters[\"should-print\"] == 'true'", True),
        ("jsonpath(workflow.parameters.json, '$[0].value') == 'true'", True),
        ("jsonpath(workflow.parameters.config, '$.employees[?(@.name==\"Baris\")].age')", [43]),
        ("jsonpath(workflow.parameters.config, '$.employees[?(@.age>42 && @.age<44)].age')", [43]),
        (
            "jsonpath(workflow.parameters.config, '$.employees[0:1]')",
            [{"name": "Baris", "age": 43}],
        ),
        ("jsonpath(workflow.parameters.config, '$.employees[*].name')", ["Baris", "Mo", "Jai"]),
        ("toJson(filter([1, 3], {# > 1}))", "[3]"),
        ("asInt(inputs.parameters.foo) * 10", 50),
        ("sprig.date('2006', workflow.creationTimestamp)", "2023"),
        (
            "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result "
            ": steps.tails.outputs.result",
            "it was heads",
        ),
        (
            "tasks['flip-coin'].outputs.result == 'heads' ? tasks.heads.outputs.result "
            ": tasks.tails.outputs.result",
            "it was tails",
        ),
        ('filter(data, {# endsWith "main.log"})', ["logs/a/main.log", "logs/main.log"]),
        (
            "asInt(inputs.parameters.num) == 1? 1: asInt(inputs.parameters.num) == 2? 1: "
            "steps['fibonacci-helper'].outputs.parameters.result",
            "8",
        ),
        ("workflow.parameters.foo", "bar"),
        ('steps["step-1"].status == "Running"', True),
        ('steps["step-1"].status == "Succeeded"', False),
        ('steps.step2.status == "Running"', False),
        ('steps.step2.status == "Succeeded"', True),
        ('workflow.status == "Running"', True),
        ("jsonpath(inputs.parameters['week-temps'], '$.avg')", 35.8),
        ("jsonpath(inputs.parameters['week-temps'], '$.min')", 15),
        ("jsonpath(inputs.parameters['week-temps'], '$.max')", 57),
        ("item", {"name": "x"}),
        ("asInt(lastRetry.exitCode) > 1", True),
        ('lastRetry.status != "Error"', True),
        ("asInt(lastRetry.duration) < 60", True),
        ("lastRetry.message matches 'imminent node shutdown|pod deleted'", True),
        (
            'asInt(lastRetry.exitCode) > 1 &&\nlastRetry.status != "Error" &&\n'
            "asInt(lastRetry.duration) < 120 &&\n"
            "(false == true || lastRetry.message matches 'imminent node shutdown|pod deleted')",
            True,
        ),
    ],
)
def test_argo_example_expressions(source, expected):
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


def test_reusing_verbose_snippets_example():
    source = """
        map([
            jsonpath(
              sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps'
            )
          ], {
            toJson({
              avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
              min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
              max: sprig.max(#[0], #[1], #[2], #[3], #[4])
            })
        })[0]
    """
    assert ev(source) == '{"avg":35.8,"max":57,"min":15}'


def test_cron_stop_expression_with_time_arithmetic():
    source = (
        "cronworkflow.lastScheduledTime == nil || "
        "(now() - cronworkflow.lastScheduledTime).Seconds() > 360"
    )
    recent = datetime.now(UTC) - timedelta(seconds=30)
    old = datetime.now(UTC) - timedelta(hours=1)
    assert ev(source, {"cronworkflow": {"lastScheduledTime": None}}) is True
    assert ev(source, {"cronworkflow": {"lastScheduledTime": recent}}) is False
    assert ev(source, {"cronworkflow": {"lastScheduledTime": old}}) is True


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("[1, 2]", [1, 2]),
        ("filter([1, 2], { # > 1})", [2]),
        ("map([1, 2], { # * 2 })", [2, 4]),
        ("asInt(inputs.parameters['foo'])", 5),
        ("asFloat(inputs.parameters['my-float-param'])", 2.5),
        ("string(1)", "1"),
        ("toJson([1, 2])", "[1,2]"),
        ("sprig.trim('  padded  ')", "padded"),
    ],
)
def test_documented_examples(source, expected):
    result = ev(source)
    assert result == expected
    assert type(result) is type(expected)


# --- language -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1", 1),
        ("1.5", 1.5),
        ("1_000", 1000),
        ("0x1F", 31),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'tab\there'", "tab\there"),
        (r'"quote\" \u00e9 \x41"', 'quote" é A'),
        ("`raw\\n`", "raw\\n"),
        ("true", True),
        ("false", False),
        ("nil", None),
        ("[1, 'a', [true]]", [1, "a", [True]]),
        ("{a: 1, 'b-c': 2, 3: 'x', (1 + 1): 'y'}", {"a": 1, "b-c": 2, "3": "x", 2: "y"}),
        ("[1, 2,]", [1, 2]),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("4 / 2", 2.0),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("2 ** 3", 8.0),
        ("2 ^ 3 ^ 2", 512.0),
        ("-2 ** 2", -4.0),
        ("1 + 1.5", 2.5),
        ("'a' + 'b'", "ab"),
        ("1 == 1.0", True),
        ("'1' == 1", False),
        ("nil == nil", True),
        ("[1, 2] == [1, 2]", True),
        ("1 < 2 < 3", True),
        ("3 > 2 > 2", False),
        ("'abc' < 'abd'", True),
        ("2 in [1, 2]", True),
        ("'a' in {a: 1}", True),
        ("'z' not in {a: 1}", True),
        ("'x' not in ['a']", True),
        ("'foobar' matches '^foo'", True),
        ("'foobar' not matches 'baz'", True),
        ("'foobar' contains 'oba'", True),
        ("'foobar' startsWith 'foo'", True),
        ("'foobar' endsWith 'bar'", True),
        ("not true", False),
        ("!false", True),
        ("true and false", False),
        ("true or false", True),
        ("false && missing.thing", False),  # short-circuit: the right side is not evaluated
        ("true || missing.thing", True),
        ("true ? 'y' : 'n'", "y"),
        ("false ? 'y' : 'n'", "n"),
        ("1..3", [1, 2, 3]),
        ("3..1", []),
        ("nil ?? 'fallback'", "fallback"),
        ("'set' ?? 'fallback'", "set"),
        ("[1, 2, 3][0]", 1),
        ("[1, 2, 3][-1]", 3),
        ("[1, 2, 3, 4][1:3]", [2, 3]),
        ("[1, 2, 3, 4][:2]", [1, 2]),
        ("[1, 2, 3, 4][2:]", [3, 4]),
        ("'hello'[1:3]", "el"),
        ("{a: {b: 1}}.a.b", 1),
        ("{a: {b: 1}}['a']['b']", 1),
        ("[1, 2] | map(# * 10)", [10, 20]),
        ("1 /* comment */ + 1 // trailing", 2),
    ],
)
def test_language(source, expected):
    result = evaluate_expr(source, {})
    assert result == expected
    assert type(result) is type(expected)


def test_hyphenated_keys_need_brackets():
    assert ev("inputs.parameters['should-print']") == "true"
    # Without brackets `should-print` is a subtraction of two unknown names.
    with pytest.raises(ExpressionError, match="unknown name print"):
        ev("inputs.parameters.should-print")


def test_missing_map_keys_are_nil():
    assert ev("workflow.parameters.missing") is None
    assert ev("workflow.parameters.missing ?? 'fallback'") == "fallback"
    assert ev("workflow.parameters['no-such'] ?? 'dflt'") == "dflt"
    assert ev("workflow.parameters.missing == nil") is True


def test_optional_chaining():
    assert ev("workflow.missing?.deeper") is None
    assert ev("workflow.missing?.deeper.still") is None
    assert ev("workflow?.name") == "wf-abc"
    assert ev("workflow.missing?.['x'] ?? 'd'") == "d"
    with pytest.raises(ExpressionError, match="cannot fetch deeper from <nil>"):
        ev("workflow.missing.deeper")


def test_unknown_top_level_name_is_an_error():
    with pytest.raises(ExpressionError) as err:
        ev("nosuch + 1")
    assert str(err.value) == "cannot evaluate expression 'nosuch + 1': unknown name nosuch (1:1)"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("all([1, 2], # > 0)", True),
        ("all([1, -2], {# > 0})", False),
        ("any([1, -2], # < 0)", True),
        ("none([1, 2], # < 0)", True),
        ("one([1, 2], # == 1)", True),
        ("count([1, 2, 3], # > 1)", 2),
        ("count([true, false, true])", 2),
        ("sum([1, 2, 3])", 6),
        ("sum([{n: 1}, {n: 2}], .n)", 3),
        ("map([{a: 1}, {a: 2}], .a)", [1, 2]),
        ("map([{a: 1}, {a: 2}], #.a)", [1, 2]),
        ("filter([{a: 1}, {a: 2}], {.a == 1})", [{"a": 1}]),
        ("map([10, 20], #index)", [0, 1]),
        ("find([1, 2, 3], # > 1)", 2),
        ("findIndex([1, 2, 3], # > 1)", 1),
        ("findLast([1, 2, 3], # > 1)", 3),
        ("findLastIndex([1, 2, 3], # > 5)", -1),
        ("groupBy([1, 2, 3], # % 2)", {1: [1, 3], 0: [2]}),
        ("sortBy([3, 1, 2], #)", [1, 2, 3]),
        ("reduce([1, 2, 3], #acc + #, 10)", 16),
        ("reduce([1, 2, 3], #acc + #)", 6),
        ("map(filter(1..6, # % 2 == 0), # * #)", [4, 16, 36]),
        ("filter([[1], [1, 2]], len(#) > 1)", [[1, 2]]),
        ("map([1, 2], {map([1], # * 10)})", [[10], [10]]),
    ],
)
def test_closures(source, expected):
    assert evaluate_expr(source, {}) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len([1, 2])", 2),
        ("len('héllo')", 5),
        ("len({a: 1})", 1),
        ("keys({a: 1, b: 2})", ["a", "b"]),
        ("values({a: 1, b: 2})", [1, 2]),
        ("first([4, 5])", 4),
        ("first([])", None),
        ("last([4, 5])", 5),
        ("upper('abc')", "ABC"),
        ("lower('ABC')", "abc"),
        ("trim('  x  ')", "x"),
        ("trim('--x--', '-')", "x"),
        ("split('a,b,c', ',')", ["a", "b", "c"]),
        ("split('a,b,c', ',', 2)", ["a", "b,c"]),
        ("join(['a', 'b'], '-')", "a-b"),
        ("join(['a', 'b'])", "ab"),
        ("int('42')", 42),
        ("int(3.9)", 3),
        ("float('1.5')", 1.5),
        ("float(2)", 2.0),
        ("string(2.0)", "2"),
        ("string(0.5)", "0.5"),
        ("string(true)", "true"),
        ("string(nil)", "<nil>"),
        ("string([1, 'a'])", "[1 a]"),
        ("abs(-3)", 3),
        ("abs(-2.5)", 2.5),
        ("max(1, 5, 3)", 5),
        ("min([4, 2, 8])", 2),
        ("ceil(1.2)", 2.0),
        ("floor(1.8)", 1.0),
        ("round(2.5)", 3.0),
        ("replace('aaa', 'a', 'b')", "bbb"),
        ("hasPrefix('foobar', 'foo')", True),
        ("indexOf('foobar', 'bar')", 3),
        ("reverse([1, 2, 3])", [3, 2, 1]),
        ("sort([3, 1, 2])", [1, 2, 3]),
        ("uniq([1, 1, 2])", [1, 2]),
        ("concat([1], [2, 3])", [1, 2, 3]),
        ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("toJSON({b: 1, a: [1]})", '{\n  "a": [\n    1\n  ],\n  "b": 1\n}'),
        ("fromJSON('{\"a\": [1, 2]}').a[1]", 2),
        ("toBase64('hi')", "aGk="),
        ("fromBase64('aGk=')", "hi"),
        ("type(1)", "int"),
        ("type('a')", "string"),
        ("duration('1h30m').Minutes()", 90.0),
        ("date('2023-06-15T12:00:00Z').Year()", 2023),
        ("date('2023-06-15T12:00:00Z').Format('2006-01-02')", "2023-06-15"),
        ("date('15/06/2023', '02/01/2006').Month()", 6),
    ],
)
def test_builtins(source, expected):
    result = evaluate_expr(source, {})
    assert result == expected
    assert type(result) is type(expected)


# --- Argo's functions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("asInt('12')", 12),
        ("asFloat('1.25')", 1.25),
        ("toJson({b: 1, a: 'x'})", '{"a":"x","b":1}'),
        ("toJson('<tag> & co')", '"\\u003ctag\\u003e \\u0026 co"'),
        ("toJson(1.0)", "1"),
        ("toJson(nil)", "null"),
        ("toJson([1.5, true, {}])", "[1.5,true,{}]"),
        ("jsonpath('{\"a\": {\"b\": [1, 2]}}', '$.a.b[1]')", 2),
        ("jsonpath('{\"a\": {\"b\": [1, 2]}}', '$.a.b')", [1, 2]),
        ("jsonpath('{\"a\": {\"b\": [1, 2]}}', '$.a.b[*]')", [1, 2]),
        ("jsonpath('{\"a\": {\"b\": [1, 2]}}', '$..b')", [[1, 2]]),
        ('jsonpath(\'{"a": 1, "b": 2}\', \'$["a", "b"]\')', [1, 2]),
        ("jsonpath('[{\"x\": 1}, {\"x\": 5}]', '$[?(@.x > 2)].x')", [5]),
    ],
)
def test_argo_functions(source, expected):
    result = evaluate_expr(source, {})
    assert result == expected
    assert type(result) is type(expected)


def test_jsonpath_definite_path_that_matches_nothing_is_an_error():
    with pytest.raises(ExpressionError, match="matched nothing"):
        evaluate_expr("jsonpath('{\"a\": 1}', '$.b')", {})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sprig.b64enc('hello')", base64.b64encode(b"hello").decode()),
        ("sprig.b64dec('aGVsbG8=')", "hello"),
        ("sprig.add(1, 2, 3)", 6),
        ("sprig.add('4', 1.9)", 5),  # sprig converts leniently to int64
        ("sprig.sub(5, 7)", -2),
        ("sprig.mul(2, 3, 4)", 24),
        ("sprig.div(7, 2)", 3),
        ("sprig.div(-7, 2)", -3),
        ("sprig.mod(-7, 3)", -1),
        ("sprig.max(3, 9, 4)", 9),
        ("sprig.min(3, 9, 4)", 3),
        ("sprig.int('12')", 12),
        ("sprig.atoi('nope')", 0),
        ("sprig.float64('2.5')", 2.5),
        ("sprig.trim('  x ')", "x"),
        ("sprig.upper('x')", "X"),
        ("sprig.lower('X')", "x"),
        ("sprig.replace('a', 'b', 'banana')", "bbnbnb"),
        ("sprig.contains('nan', 'banana')", True),
        ("sprig.hasPrefix('ba', 'banana')", True),
        ("sprig.hasSuffix('na', 'banana')", True),
        ("sprig.toString(12)", "12"),
        ("sprig.default('dflt', '')", "dflt"),
        ("sprig.default('dflt', 'given')", "given"),
        ("sprig.empty('')", True),
        ("sprig.empty([1])", False),
        ("sprig.quote('a', 'b')", '"a" "b"'),
        ("sprig.squote('a')", "'a'"),
        ("sprig.join('-', ['a', 'b'])", "a-b"),
        ("sprig.split('$', 'a$b')", {"_0": "a", "_1": "b"}),
        ("sprig.splitList(',', 'a,b')", ["a", "b"]),
        ("sprig.list(1, 2)", [1, 2]),
        ("sprig.dict('a', 1, 'b', 2)", {"a": 1, "b": 2}),
        ("sprig.toJson({b: 2, a: 1})", '{"a":1,"b":2}'),
        ("sprig.fromJson('{\"a\": 1}').a", 1),
        ("sprig.regexMatch('^[a-z]+$', 'abc')", True),
        ("sprig.regexFind('[0-9]+', 'ab12cd34')", "12"),
        ("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", "-W-xxW-"),
        (
            "sprig.sha256sum('abc')",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        ("sprig.date('2006-01-02', '2023-06-15T12:00:00Z')", "2023-06-15"),
        ("sprig.date('Jan 2, 2006 15:04', '2023-06-15T12:34:00Z')", "Jun 15, 2023 12:34"),
    ],
)
def test_sprig(source, expected):
    result = evaluate_expr(source, {})
    assert result == expected
    assert type(result) is type(expected)


def test_sprig_date_accepts_datetime_values():
    when = datetime(2021, 7, 4, 9, 5, 6, tzinfo=UTC)
    assert evaluate_expr("sprig.date('2006-01-02T15:04:05Z07:00', t)", {"t": when}) == (
        "2021-07-04T09:05:06Z"
    )


def test_sprig_is_a_namespace_with_attributes():
    sprig = BUILTIN_FUNCTIONS["sprig"]
    assert sprig.b64enc("a") == "YQ=="
    assert sprig["upper"]("a") == "A"


# --- extension and environment ------------------------------------------------------------------


def test_caller_functions_extend_and_override():
    functions = {"double": lambda x: x * 2, "upper": lambda s: f"<{s}>"}
    assert evaluate_expr("double(21)", {}, functions) == 42
    assert evaluate_expr("upper('a')", {}, functions) == "<a>"
    assert evaluate_expr("upper('a')", {}) == "A"


def test_env_callables_can_be_called():
    assert evaluate_expr("greet('bob')", {"greet": lambda n: f"hi {n}"}) == "hi bob"


class LazyEnv(Mapping):
    """Records every access; fails if anyone iterates or sizes it."""

    def __init__(self, values):
        self.values = values
        self.seen = []

    def __getitem__(self, key):
        self.seen.append(key)
        value = self.values[key]
        return value() if callable(value) else value

    def __iter__(self) -> Iterator:
        raise AssertionError("the environment must not be iterated")

    def __len__(self):
        raise AssertionError("the environment must not be sized")


def test_environment_is_only_indexed_on_demand():
    expensive = {"calls": 0}

    def build():
        expensive["calls"] += 1
        return {"parameters": {"x": "1"}}

    env = LazyEnv({"inputs": build, "other": lambda: pytest.fail("other was evaluated")})
    assert evaluate_expr("inputs.parameters.x", env) == "1"
    assert expensive["calls"] == 1
    assert env.seen == ["inputs"]


def test_results_are_plain_python_values():
    result = evaluate_expr("{a: [1, 'x', nil, true]}", {})
    assert json.dumps(result) == '{"a": [1, "x", null, true]}'


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("1 +", "invalid expression '1 +': unexpected end of expression (1:4)"),
        ("'abc", "invalid expression ''abc': literal not terminated (1:1)"),
        ("(1", "invalid expression '(1': unexpected end of expression (1:3)"),
        ("1 ?? 2 + 3", "Operator (+) and coalesce expressions (??) cannot be mixed"),
        ("nosuchfn(1)", "unknown func nosuchfn (1:1)"),
        ("1 < 'a'", "invalid operation: < (mismatched types int and string) (1:3)"),
        ("[1][5]", "index out of range: 5 (array length is 1) (1:4)"),
        ("asInt('x')", "asInt: invalid operation: int(x) (1:1)"),
        ("'a' - 1", "invalid operation: string - int"),
        ("1 % 0", "integer divide by zero"),
        ("!'a'", "invalid operation: ! (string)"),
        ("1 ? 2 : 3", "non-bool expression (type int) used as condition"),
        ("'a' matches '('", "error parsing regexp"),
        ("filter(1, # > 0)", "filter"),
        ("#", "invalid expression '#'"),
        ("1\n+ foo", "unknown name foo (2:3)"),
    ],
)
def test_errors(source, message):
    with pytest.raises(ExpressionError) as err:
        evaluate_expr(source, {})
    assert message in str(err.value)
    assert f"'{source}'" in str(err.value)
