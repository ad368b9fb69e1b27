"""`when:` conditions evaluated as Argo's shouldExecute does on top of govaluate."""

import pytest

from argosy.errors import ExpressionError
from argosy.expr import evaluate_when

# Argo's own table (workflow/controller/when_test.go).
ARGO_TRUE = [
    "foo == foo",
    "'ref/branch/master' == 'ref/branch/master'",
    "foo != bar",
    "1 == 1",
    "1 != 2",
    "1 < 2",
    "1 <= 1",
    "1/2 == 0.5",
    "a < b",
    "(foo == bar) || (foo == foo)",
    "(1 > 0) && (1 < 2)",
    "Error in (Failed, Error)",
    "!(Succeeded in (Failed, Error))",
    "true == true",
]
ARGO_FALSE = [
    "foo != foo",
    "'ref/branch/master' != 'ref/branch/master'",
    "foo == bar",
    "1 != 1",
    "1 == 2",
    "1 > 2",
    "1 <= 0",
    "1/2 != 0.5",
    "a > b",
    "(foo == bar) || (bar == foo)",
    "(1 > 0) && (11 < 2)",
    "Succeeded in (Failed, Error)",
    "!(Error in (Failed, Error))",
    "false == true",
]


@pytest.mark.parametrize("text", ARGO_TRUE)
def test_argo_true_expressions(text):
    assert evaluate_when(text) is True


@pytest.mark.parametrize("text", ARGO_FALSE)
def test_argo_false_expressions(text):
    assert evaluate_when(text) is False


# The `when:` strings of Argo's examples, after {{…}} substitution with realistic values.
EXAMPLES = [
    ("heads == heads", True),  # {{steps.flip-coin.outputs.result}} == heads
    ("tails == heads", False),
    ("tails == tails", True),
    ("YES == YES", True),  # {{steps.approval.outputs.parameters.approve}} == YES
    ("Failed == Failed", True),  # {{steps.flakey-container.status}} == Failed
    ("Succeeded == Failed", False),
    ("Succeeded == Succeeded", True),
    ("even == even", True),  # {{item.evenness}} == even
    ("odd == even", False),
    ("true == true", True),  # {{inputs.parameters.should-print}} == true
    ("false == true", False),
    ("3 < 10", True),  # {{steps.iterate-counter.outputs.result}} < {{inputs.parameters.limit}}
    ("10 < 10", False),
    ("Succeeded != Succeeded", False),  # {{workflow.status}} != Succeeded
    ("Failed != Succeeded", True),
    ("heads =~ hea", True),  # {{steps.flip-again.outputs.result}} =~ hea
    ("tails =~ hea", False),
    ("tails =~ tai", True),
    ("3 != 1 && 3 != 2", True),  # {{inputs.parameters.num}} != 1 && … != 2
    ("2 != 1 && 2 != 2", False),
    (
        "( heads == heads &&\n  tails == tails\n) ||\n( heads == tails &&\n  tails == tails )",
        True,
    ),
    (
        "( tails == heads &&\n  heads == tails\n) ||\n( tails == tails &&\n  heads == tails )",
        False,
    ),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
def test_argo_example_conditions(text, expected):
    assert evaluate_when(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 == 5.0", True),  # numbers are float64
        ("05 == 5", True),
        ("10 > 9", True),  # numeric, not lexical
        ("'10' > '9'", False),  # quoted: lexical
        ("abc < abd", True),
        ("0x10 == 16", True),
        ("-1 < 0", True),
        ("2 ** 3 == 8", True),
        ("7 % 4 == 3", True),
        ("True == true", False),  # only lowercase true/false are booleans
        ("'a b' == 'a b'", True),
        ('"double" == double', True),
        ("'it\\'s' == 'it\\'s'", True),  # backslash escapes
        ("[a b] == 'a b'", True),  # bracketed words are one (variable → string) token
        ("a + b == ab", True),  # + concatenates strings
        ("foo == 'foo'", True),
        ("heads !~ '^t'", True),
        ("'feature/x' =~ '^feature/'", True),
        ("!true", False),
        ("true && !false", True),
        ("(x ?? y) == x", True),
        ("(true ? yes : no) == yes", True),
        ("(false ? yes : no) == no", True),
        ("(a == ) == false", True),  # govaluate treats a missing operand as an absent value
    ],
)
def test_edge_cases(text, expected):
    assert evaluate_when(text) is expected


def test_empty_condition_is_true():
    assert evaluate_when("") is True


def test_hyphenated_bare_words_are_subtraction():
    # govaluate lexes hello-world as hello - world; Argo then fails on string subtraction.
    with pytest.raises(ExpressionError) as err:
        evaluate_when("hello-world == hello-world")
    assert str(err.value) == (
        "Failed to evaluate 'when' expression 'hello-world == hello-world': "
        "Value 'hello' cannot be used with the modifier '-', it is not a number"
    )


def test_quoted_hyphenated_words_are_strings():
    assert evaluate_when("'hello-world' == 'hello-world'") is True


def test_unquoted_dates_are_arithmetic():
    assert evaluate_when("2021-01-01 == 2019") is True
    assert evaluate_when("2021-01-01 == 2021-01-01") is True


def test_quoted_dates_compare_as_timestamps():
    assert evaluate_when("'2021-01-01' < '2021-02-01'") is True
    assert evaluate_when("'2021-01-01T00:00:00Z' == '2021-01-01T01:00:00+01:00'") is True
    assert evaluate_when("'2021-03-01' > '2021-02-28'") is True


def test_short_circuit_skips_type_errors():
    assert evaluate_when("false && a-b == c") is False
    assert evaluate_when("true || a-b == c") is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x ==", "Invalid 'when' expression 'x ==': Unexpected end of expression"),
        (
            "a == b c",
            "Invalid 'when' expression 'a == b c': "
            "Cannot transition token types from VARIABLE [b] to VARIABLE [c]",
        ),
        ("(a == b", "Invalid 'when' expression '(a == b': Unbalanced parenthesis"),
        ("'abc == abc", "Invalid 'when' expression ''abc == abc': Unclosed string literal"),
        ("foo(1) == 1", "Invalid 'when' expression 'foo(1) == 1': Undefined function foo"),
        (
            "1.2.3 == 1",
            "Invalid 'when' expression '1.2.3 == 1': "
            "Unable to parse numeric value '1.2.3' to float64",
        ),
        (
            "foo.bar == 1",
            "Invalid 'when' expression 'foo.bar == 1': "
            "Unable to access unexported field 'bar' in token 'foo.bar'",
        ),
        (
            "v1.2.3 == v1.2.3",
            "Failed to evaluate 'when' expression 'v1.2.3 == v1.2.3': No parameter 'v1' found.",
        ),
        (
            "a && b",
            "Failed to evaluate 'when' expression 'a && b': "
            "Value 'a' cannot be used with the logical operator '&&', it is not a bool",
        ),
        (
            "a < 1",
            "Failed to evaluate 'when' expression 'a < 1': "
            "Value 'a' cannot be used with the comparator '<', it is not a number",
        ),
        ("heads", "Expected boolean evaluation for 'heads'. Got heads"),
        ("1 + 1", "Expected boolean evaluation for '1 + 1'. Got 2"),
        ("1 / 4", "Expected boolean evaluation for '1 / 4'. Got 0.25"),
    ],
)
def test_error_messages(text, message):
    with pytest.raises(ExpressionError) as err:
        evaluate_when(text)
    assert str(err.value) == message


@pytest.mark.parametrize("text", ["a ==- b", "_x == 1", "a === b"])
def test_invalid_token_carries_quoting_hint(text):
    with pytest.raises(ExpressionError) as err:
        evaluate_when(text)
    message = str(err.value)
    assert message.startswith(f"Invalid 'when' expression '{text}': Invalid token: '")
    assert message.endswith('(hint: try wrapping the affected expression in quotes ("))')


def test_invalid_regex_is_an_error():
    with pytest.raises(ExpressionError, match=r"Invalid 'when' expression 'a =~ '\(''"):
        evaluate_when("a =~ '('")
    with pytest.raises(ExpressionError, match="Failed to parse 'when' expression"):
        evaluate_when("a =~ a\\(")  # a bare word becomes a pattern only after Argo's rewrite
