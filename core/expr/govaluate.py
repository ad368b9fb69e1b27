"""Argo's ``when:`` conditions: the govaluate expression language as Argo drives it.

Argo substitutes ``{{…}}`` first, parses the text with govaluate, turns every bare word (a govaluate
VARIABLE) into a string literal, and requires a boolean result (``shouldExecute`` in
workflow/controller/steps.go). This module reproduces govaluate's lexer (including its quirks:
``hello-world`` is ``hello`` minus ``world``, ``2021-01-01`` is the number 2019, a quoted date is a
unix timestamp), its token-transition syntax check, its operator precedence and its runtime type
checks, so a condition is true, false or an error exactly when it is in Argo.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argosy.errors import ExpressionError
from argosy.expr.functions import go_format
from argosy.expr.substitute import absent_output

__all__ = ["evaluate_when"]

# Token kinds, named as govaluate names them (they appear in its error messages).
PREFIX, NUMERIC, BOOLEAN, STRING, PATTERN, TIME = (
    "PREFIX",
    "NUMERIC",
    "BOOLEAN",
    "STRING",
    "PATTERN",
    "TIME",
)
VARIABLE, SEPARATOR, ACCESSOR, COMPARATOR = "VARIABLE", "SEPARATOR", "ACCESSOR", "COMPARATOR"
LOGICALOP, MODIFIER, CLAUSE, CLAUSE_CLOSE = "LOGICALOP", "MODIFIER", "CLAUSE", "CLAUSE_CLOSE"
TERNARY, UNKNOWN = "TERNARY", "UNKNOWN"

_OPERANDS = {NUMERIC, BOOLEAN, VARIABLE, PATTERN, ACCESSOR, STRING, TIME}
_AFTER_VALUE = {MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR}

# kind -> (may end the expression, kinds that may follow); govaluate's lexerState table.
_STATES: dict[str, tuple[bool, frozenset[str]]] = {
    UNKNOWN: (False, frozenset({PREFIX, CLAUSE} | _OPERANDS)),
    CLAUSE: (False, frozenset({PREFIX, CLAUSE, CLAUSE_CLOSE} | _OPERANDS)),
    CLAUSE_CLOSE: (
        True,
        frozenset(_AFTER_VALUE | {NUMERIC, BOOLEAN, VARIABLE, STRING, PATTERN, TIME, CLAUSE}),
    ),
    NUMERIC: (True, frozenset(_AFTER_VALUE)),
    BOOLEAN: (True, frozenset(_AFTER_VALUE)),
    STRING: (True, frozenset(_AFTER_VALUE)),
    VARIABLE: (True, frozenset(_AFTER_VALUE)),
    TIME: (True, frozenset(_AFTER_VALUE - {TERNARY})),
    PATTERN: (True, frozenset(_AFTER_VALUE - {TERNARY})),
    MODIFIER: (
        False,
        frozenset({PREFIX, NUMERIC, VARIABLE, ACCESSOR, STRING, BOOLEAN, CLAUSE, CLAUSE_CLOSE}),
    ),
    COMPARATOR: (False, frozenset({PREFIX, CLAUSE, CLAUSE_CLOSE} | _OPERANDS)),
    LOGICALOP: (False, frozenset({PREFIX, CLAUSE, CLAUSE_CLOSE} | _OPERANDS - {PATTERN})),
    PREFIX: (False, frozenset({NUMERIC, BOOLEAN, VARIABLE, ACCESSOR, CLAUSE, CLAUSE_CLOSE})),
    TERNARY: (False, frozenset({PREFIX, CLAUSE, SEPARATOR} | _OPERANDS - {PATTERN})),
    ACCESSOR: (True, frozenset(_AFTER_VALUE | {CLAUSE})),
    SEPARATOR: (False, frozenset({PREFIX, CLAUSE} | _OPERANDS - {PATTERN})),
}

_PREFIXES = {"-", "!", "~"}
_MODIFIERS = {"+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"}
_LOGICALS = {"&&", "||"}
_COMPARATORS = {"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"}
_TERNARIES = {"?", ":", "??"}

# Binary precedence levels, loosest first, as govaluate's planner chains them.
_LEVELS: list[tuple[str, frozenset[str]]] = [
    (SEPARATOR, frozenset({","})),
    (TERNARY, frozenset(_TERNARIES)),
    (LOGICALOP, frozenset({"||"})),
    (LOGICALOP, frozenset({"&&"})),
    (COMPARATOR, frozenset(_COMPARATORS)),
    (MODIFIER, frozenset({"&", "|", "^"})),
    (MODIFIER, frozenset({">>", "<<"})),
    (MODIFIER, frozenset({"+", "-"})),
    (MODIFIER, frozenset({"*", "/", "%"})),
    (MODIFIER, frozenset({"**"})),
]


@dataclass
class _Token:
    kind: str
    value: Any


class _GovaluateError(Exception):
    """A govaluate error; Argo wraps its text in a message quoting the expression."""


# --- lexer ----------------------------------------------------------------------------------


class _Stream:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def can_read(self) -> bool:
        return self.pos < len(self.text)

    def read(self) -> str:
        # Go indexes past the end here (and panics); an empty string ends the token instead.
        ch = self.text[self.pos] if self.pos < len(self.text) else ""
        self.pos += 1
        return ch


def _is_digit(ch: str) -> bool:
    return ch.isdecimal()


def _is_numeric(ch: str) -> bool:
    return ch.isdecimal() or ch == "."


def _is_not_quote(ch: str) -> bool:
    return ch not in "'\""


def _is_not_alphanumeric(ch: str) -> bool:
    return not (ch.isdecimal() or ch.isalpha() or ch in "()[]'\"")


def _is_variable_name(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch in "_."


def _read_until_false(
    stream: _Stream, include_ws: bool, break_ws: bool, cond: Callable[[str], bool]
) -> tuple[str, bool]:
    """govaluate's readUntilFalse: a backslash escapes any character; reports whether the
    condition (or whitespace) ended the read before the input did."""
    buf: list[str] = []
    while stream.can_read():
        ch = stream.read()
        if ch == "\\":
            buf.append(stream.read())
            continue
        if ch.isspace():
            if break_ws and buf:
                return "".join(buf), True
            if not include_ws:
                continue
        if cond(ch):
            buf.append(ch)
        else:
            stream.pos -= 1
            return "".join(buf), True
    return "".join(buf), False


def _read_token_until_false(stream: _Stream, cond: Callable[[str], bool]) -> str:
    stream.pos -= 1
    return _read_until_false(stream, False, True, cond)[0]


def _parse_go_float(text: str) -> float:
    if not text or not all(c.isascii() for c in text) or text.count(".") > 1 or text == ".":
        raise _GovaluateError(f"Unable to parse numeric value '{text}' to float64")
    return float(text)


def _read_number(stream: _Stream, ch: str) -> _Token:
    if stream.can_read() and ch == "0":
        ch = stream.read()
        if stream.can_read() and ch == "x":
            text, _ = _read_until_false(
                stream, False, True, lambda c: c in "0123456789abcdefABCDEF"
            )
            try:
                return _Token(NUMERIC, float(int(text, 16)))
            except ValueError:
                raise _GovaluateError(f"Unable to parse hex value '{text}' to uint64") from None
        stream.pos -= 1
    return _Token(NUMERIC, _parse_go_float(_read_token_until_false(stream, _is_numeric)))


def _read_word(stream: _Stream) -> _Token:
    text = _read_token_until_false(stream, _is_variable_name)
    if text in ("true", "false"):
        return _Token(BOOLEAN, text == "true")
    if text in ("in", "IN"):
        return _Token(COMPARATOR, "in")
    if text.find(".") > 0:
        if text.endswith("."):
            raise _GovaluateError(f"Hanging accessor on token '{text}'")
        parts = text.split(".")
        for part in parts[1:]:
            if part[:1] and part[0].upper() != part[0]:
                raise _GovaluateError(
                    f"Unable to access unexported field '{part}' in token '{text}'"
                )
        return _Token(ACCESSOR, parts)
    return _Token(VARIABLE, text)


def _read_symbol(stream: _Stream, state: str) -> _Token:
    text = _read_token_until_false(stream, _is_not_alphanumeric)
    # "-" is negation where an operand is expected and subtraction elsewhere.
    if text in _PREFIXES and PREFIX in _STATES[state][1]:
        return _Token(PREFIX, text)
    for kind, symbols in (
        (MODIFIER, _MODIFIERS),
        (LOGICALOP, _LOGICALS),
        (COMPARATOR, _COMPARATORS),
        (TERNARY, _TERNARIES),
    ):
        if text in symbols:
            return _Token(kind, text)
    raise _GovaluateError(f"Invalid token: '{text}'")


def _read_token(stream: _Stream, state: str) -> _Token | None:
    while stream.can_read():
        ch = stream.read()
        if ch.isspace():
            continue
        if _is_numeric(ch):
            return _read_number(stream, ch)
        if ch == ",":
            return _Token(SEPARATOR, ",")
        if ch == "[":
            text, completed = _read_until_false(stream, True, False, lambda c: c != "]")
            if not completed:
                raise _GovaluateError("Unclosed parameter bracket")
            stream.pos += 1
            return _Token(VARIABLE, text)
        if ch.isalpha():
            return _read_word(stream)
        if not _is_not_quote(ch):
            text, completed = _read_until_false(stream, True, False, _is_not_quote)
            if not completed:
                raise _GovaluateError("Unclosed string literal")
            stream.pos += 1
            stamp = _try_parse_time(text)
            return _Token(STRING, text) if stamp is None else _Token(TIME, stamp)
        if ch == "(":
            return _Token(CLAUSE, ord("("))
        if ch == ")":
            return _Token(CLAUSE_CLOSE, ord(")"))
        return _read_symbol(stream, state)
    return None


def _tokenize(text: str) -> list[_Token]:
    stream = _Stream(text)
    tokens: list[_Token] = []
    state = UNKNOWN
    while stream.can_read():
        token = _read_token(stream, state)
        if token is None:
            break
        state = token.kind
        tokens.append(token)
    return tokens


_TIME_RES = [
    re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})"),
    re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})"),
    re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?P<tz>[+-]\d{2}:\d{2})"),
    re.compile(
        r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?P<tz>Z|[+-]\d{2}:\d{2})"
    ),
    re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})(?P<tz>Z|[+-]\d{4})"),
    re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?P<tz>Z|[+-]\d{4})"),
    re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?P<tz>Z|[+-]\d{4})"),
]


def _try_parse_time(text: str) -> float | None:
    """govaluate turns a quoted string in one of its date layouts into a unix timestamp (seconds);
    layouts without a zone are read in the local zone. The textual layouts (ANSIC, UnixDate,
    RubyDate, Kitchen) are not recognised here."""
    for pattern in _TIME_RES:
        m = pattern.fullmatch(text)
        if not m:
            continue
        parts = [int(g) for g in m.groups()[:6] if g is not None and g[0] not in "+-Z"]
        parts += [0] * (6 - len(parts))
        zone = m.groupdict().get("tz")
        try:
            stamp = datetime(*parts[:6])  # type: ignore[misc]
        except ValueError:
            return None
        if zone is None:
            return float(math.floor(stamp.astimezone().timestamp()))
        offset = (
            0
            if zone == "Z"
            else (
                (1 if zone[0] == "+" else -1)
                * (int(zone[1:3]) * 3600 + int(zone.replace(":", "")[3:5]) * 60)
            )
        )
        epoch = (stamp - datetime(1970, 1, 1)).total_seconds()
        return float(math.floor(epoch - offset))
    return None


# --- syntax check -----------------------------------------------------------------------------


def _check_balance(tokens: list[_Token]) -> None:
    depth = sum(1 if t.kind == CLAUSE else -1 if t.kind == CLAUSE_CLOSE else 0 for t in tokens)
    if depth != 0:
        raise _GovaluateError("Unbalanced parenthesis")


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(map(str, value)) + "]"
    if isinstance(value, re.Pattern):
        return value.pattern
    return _fmt(value)


def _check_syntax(tokens: list[_Token]) -> None:
    state = UNKNOWN
    last = _Token(UNKNOWN, None)
    for token in tokens:
        if token.kind not in _STATES[state][1]:
            if last.kind == VARIABLE and token.kind == CLAUSE:
                raise _GovaluateError(f"Undefined function {last.value}")
            raise _GovaluateError(
                f"Cannot transition token types from {state} [{_show(last.value)}] "
                f"to {token.kind} [{_show(token.value)}]"
            )
        state = token.kind
        last = token
    if not _STATES[state][0]:
        raise _GovaluateError("Unexpected end of expression")


def _compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise _GovaluateError(f"error parsing regexp: {exc}: `{pattern}`") from None


def _optimize(tokens: list[_Token]) -> None:
    """Precompile a string literal right of ``=~``/``!~`` (an invalid one is a parse error)."""
    for i, token in enumerate(tokens[:-1]):
        if token.kind == COMPARATOR and token.value in ("=~", "!~"):
            nxt = tokens[i + 1]
            if nxt.kind == STRING:
                tokens[i + 1] = _Token(PATTERN, _compile_regex(nxt.value))


# --- parser -----------------------------------------------------------------------------------

# A node is ("lit", value) | ("acc", parts) | ("un", op, node) | ("bin", op, left, right)
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        return self.binary(0)

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        kind, symbols = _LEVELS[level]
        left = self.binary(level + 1)
        while (tok := self.peek()) is not None and tok.kind == kind and tok.value in symbols:
            self.pos += 1
            right = self.binary(level + 1)
            left = ("bin", tok.value, left, right)
        return left

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == PREFIX:
            self.pos += 1
            return ("un", tok.value, self.unary())
        return self.value()

    def value(self) -> Node:
        tok = self.peek()
        if tok is None or tok.kind == CLAUSE_CLOSE:
            # govaluate plans a missing operand (``(a == )``) as an absent value.
            return ("lit", None)
        self.pos += 1
        if tok.kind == CLAUSE:
            inner = self.binary(0)
            self.pos += 1  # the closing parenthesis; balance was checked
            return inner
        if tok.kind == ACCESSOR:
            nxt = self.peek()
            if nxt is not None and nxt.kind == CLAUSE:
                self.value()  # method arguments: evaluation fails before they matter
            return ("acc", tok.value)
        if tok.kind == VARIABLE:
            return ("var", tok.value)
        return ("lit", tok.value)


# --- evaluation -------------------------------------------------------------------------------

_LOGICAL_FMT = "Value '{}' cannot be used with the logical operator '{}', it is not a bool"
_MODIFIER_FMT = "Value '{}' cannot be used with the modifier '{}', it is not a number"
_COMPARATOR_FMT = "Value '{}' cannot be used with the comparator '{}', it is not a number"
_TERNARY_FMT = "Value '{}' cannot be used with the ternary operator '{}', it is not a bool"
_PREFIX_FMT = "Value '{}' cannot be used with the prefix '{}'"


def _fmt(value: Any) -> str:
    if isinstance(value, re.Pattern):
        return value.pattern
    return go_format(value)


def _is_float(value: Any) -> bool:
    return isinstance(value, float)


def _require(ok: bool, fmt: str, value: Any, op: str) -> None:
    if not ok:
        raise _GovaluateError(fmt.format(_fmt(value), op))


def _deep_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, re.Pattern):
        return a is b
    return bool(a == b)


def _div(a: float, b: float) -> float:
    if b == 0:
        return (
            math.nan
            if a == 0 or math.isnan(a)
            else math.copysign(math.inf, a) * math.copysign(1, b)
        )
    return a / b


def _mod(a: float, b: float) -> float:
    return math.nan if b == 0 else math.fmod(a, b)


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except (OverflowError, ValueError):
        return math.inf if a > 0 else math.nan


def _i64(x: float) -> int:
    return int(x) if math.isfinite(x) else 0


_ARITH: dict[str, Callable[[float, float], float]] = {
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "%": _mod,
    "**": _pow,
    "&": lambda a, b: float(_i64(a) & _i64(b)),
    "|": lambda a, b: float(_i64(a) | _i64(b)),
    "^": lambda a, b: float(_i64(a) ^ _i64(b)),
    "<<": lambda a, b: float((_i64(a) << _i64(b)) & 0xFFFFFFFFFFFFFFFF),
    ">>": lambda a, b: float((_i64(a) & 0xFFFFFFFFFFFFFFFF) >> _i64(b)),
}

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}

_SKIPPED = object()  # a short-circuited ternary operand


def _evaluate(node: Node | None) -> Any:
    if node is None:
        return None
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "var":
        raise _GovaluateError(f"No parameter '{node[1]}' found.")
    if tag == "acc":
        raise _GovaluateError(f"No parameter '{node[1][0]}' found.")
    if tag == "un":
        return _unary(node[1], _evaluate(node[2]))
    return _binary(node[1], node[2], node[3])


def _unary(op: str, right: Any) -> Any:
    if op == "!":
        _require(isinstance(right, bool), _PREFIX_FMT, right, op)
        return not right
    _require(_is_float(right), _PREFIX_FMT, right, op)
    return -right if op == "-" else float(~_i64(right))


def _binary(op: str, left_node: Node, right_node: Node) -> Any:
    left = _evaluate(left_node)
    if op == "&&" and left is False:
        return False
    if op == "||" and left is True:
        return True
    skip_right = (op == "?" and left is False) or (op in (":", "??") and left is not None)
    right = _SKIPPED if skip_right else _evaluate(right_node)
    if op in ("&&", "||"):
        _require(isinstance(left, bool), _LOGICAL_FMT, left, op)
        _require(isinstance(right, bool), _LOGICAL_FMT, right, op)
        return right
    if op == "?":
        _require(isinstance(left, bool), _TERNARY_FMT, left, op)
        return right if left else None
    if op in (":", "??"):
        return left if left is not None else right
    if op == ",":
        return [*left, right] if isinstance(left, list) else [left, right]
    return _compare_or_modify(op, left, right)


def _compare_or_modify(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return _deep_equal(left, right)
    if op == "!=":
        return not _deep_equal(left, right)
    if op in _ORDER:
        both_num = _is_float(left) and _is_float(right)
        both_str = isinstance(left, str) and isinstance(right, str)
        _require(both_num or both_str, _COMPARATOR_FMT, left, op)
        return _ORDER[op](left, right)
    if op in ("=~", "!~"):
        _require(isinstance(left, str), _COMPARATOR_FMT, left, op)
        _require(isinstance(right, str | re.Pattern), _COMPARATOR_FMT, right, op)
        pattern = right if isinstance(right, re.Pattern) else _compile_regex(right)
        found = pattern.search(left) is not None
        return found if op == "=~" else not found
    if op == "in":
        _require(isinstance(right, list), _COMPARATOR_FMT, right, op)
        return any(_deep_equal(left, item) for item in right)
    if op == "+":
        if _is_float(left) and _is_float(right):
            return left + right
        _require(isinstance(left, str) or isinstance(right, str), _MODIFIER_FMT, left, op)
        return _fmt(left) + _fmt(right)
    _require(_is_float(left), _MODIFIER_FMT, left, op)
    _require(_is_float(right), _MODIFIER_FMT, right, op)
    return _ARITH[op](left, right)


# --- Argo's shouldExecute ---------------------------------------------------------------------


def _parse(text: str) -> list[_Token]:
    tokens = _tokenize(text)
    _check_balance(tokens)
    _check_syntax(tokens)
    _optimize(tokens)
    return tokens


def evaluate_when(text: str) -> bool:
    """Decide a step's or task's ``when:`` after ``{{…}}`` substitution, as Argo does.

    Bare words are strings (``heads == heads`` is true); numbers are float64 and compare
    numerically, strings lexically; ``=~``/``!~`` match a regular expression anywhere in the
    left operand. An empty condition is true. Raises ExpressionError (quoting the expression) on a
    syntax error, a type error, or a result that is not a boolean.
    """
    if text == "":
        return True
    absent = absent_output(text)
    if absent:
        raise ExpressionError(absent)
    try:
        tokens = _parse(text)
    except _GovaluateError as exc:
        hint = ' (hint: try wrapping the affected expression in quotes ("))'
        suffix = hint if "Invalid token" in str(exc) else ""
        raise ExpressionError(f"Invalid 'when' expression '{text}': {exc}{suffix}") from None
    # Argo turns govaluate variables into strings so that ``foo != bar`` needs no quotes.
    tokens = [_Token(STRING, t.value) if t.kind == VARIABLE else t for t in tokens]
    try:
        _check_syntax(tokens)
        _optimize(tokens)
    except _GovaluateError as exc:
        raise ExpressionError(f"Failed to parse 'when' expression '{text}': {exc}") from None
    try:
        result = _evaluate(_Parser(tokens).parse())
    except _GovaluateError as exc:
        raise ExpressionError(f"Failed to evaluate 'when' expression '{text}': {exc}") from None
    if not isinstance(result, bool):
        raise ExpressionError(f"Expected boolean evaluation for '{text}'. Got {_fmt(result)}")
    return result
