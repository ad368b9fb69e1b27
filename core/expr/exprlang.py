"""The expr language (github.com/expr-lang/expr) as Argo uses it: ``{{= … }}`` tags,
``valueFrom.expression``, ``retryStrategy.expression``, hook and ``depends`` expressions.

A hand-written lexer and Pratt-style parser build a small tree that is walked to evaluate; user text
is never handed to Python's ``eval``. Parsed trees are cached per source text. The environment is
only ever indexed (``env[name]``) on demand, so it may be a lazy Mapping of lazy Mappings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from argosy.errors import ExpressionError, FunctionError
from argosy.expr import builtins as _builtins
from argosy.expr.functions import BUILTIN_FUNCTIONS, _go_type, go_format, is_number

__all__ = ["evaluate_expr"]


class _Error(Exception):
    """An error at a position in the source; turned into ExpressionError at the boundary."""

    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.message = message
        self.pos = pos


class _FunctionError(_Error):
    """A call that cannot succeed later: an unknown function, or a caller's function raised."""


class _NilChain(Exception):
    """Raised by ``a?.b`` on a nil ``a``; the enclosing chain evaluates to nil."""


# --- lexer --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "num" | "str" | "ident" | "op" | "bracket" | "eof"
    value: Any
    pos: int

    def is_op(self, *values: str) -> bool:
        return self.kind == "op" and (not values or self.value in values)

    def is_bracket(self, value: str) -> bool:
        return self.kind == "bracket" and self.value == value


_WORD_OPS = {"not", "in", "or", "and", "matches", "contains", "startsWith", "endsWith"}
_TWO_CHAR_OPS = {"==", "!=", "<=", ">=", "&&", "||", "**", "??", "?.", "..", "::"}
_ONE_CHAR_OPS = set(",;%+-^*/<>!=?:|&#.")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_NUMBER_RE = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*(?:\.(?!\.)[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?"
)


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _unescape(body: str, pos: int) -> str:
    """Decode Go-style escapes in a quoted string's body."""
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _Error("invalid char escape", pos + i)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc in "01234567" and esc:
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise _Error("invalid char escape", pos + i)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise _Error("invalid char escape", pos + i)
    return "".join(out)


def _scan_string(src: str, i: int) -> tuple[str, int]:
    quote = src[i]
    j = i + 1
    while j < len(src):
        if src[j] == "\\":
            j += 2
            continue
        if src[j] == quote:
            return _unescape(src[i + 1 : j], i + 1), j + 1
        j += 1
    raise _Error("literal not terminated", i)


def _number_token(text: str, pos: int) -> _Tok:
    clean = text.replace("_", "")
    lower = clean.lower()
    try:
        if lower.startswith(("0x", "0b", "0o")):
            return _Tok("num", int(clean, 0), pos)
        if "." in lower or "e" in lower:
            return _Tok("num", float(clean), pos)
        return _Tok("num", int(clean, 10), pos)
    except ValueError:
        raise _Error(f"invalid number literal: {text}", pos) from None


def _tokenize(src: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
        elif src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise _Error("unclosed comment", i)
            i = end + 2
        elif ch in "'\"":
            value, i2 = _scan_string(src, i)
            tokens.append(_Tok("str", value, i))
            i = i2
        elif ch == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise _Error("literal not terminated", i)
            tokens.append(_Tok("str", src[i + 1 : end], i))
            i = end + 1
        elif ch.isdigit() or (ch == "." and src[i + 1 : i + 2].isdigit()):
            m = _NUMBER_RE.match(src, i)
            assert m is not None  # a digit always matches
            end = m.end()
            if end < n and _is_ident_char(src[end]):
                raise _Error(f"bad number syntax: {src[i : end + 1]!r}", i)
            tokens.append(_number_token(m.group(), i))
            i = end
        elif _is_ident_char(ch):
            j = i
            while j < n and _is_ident_char(src[j]):
                j += 1
            word = src[i:j]
            tokens.append(_Tok("op" if word in _WORD_OPS else "ident", word, i))
            i = j
        elif ch in "()[]{}":
            tokens.append(_Tok("bracket", ch, i))
            i += 1
        elif src[i : i + 2] in _TWO_CHAR_OPS:
            tokens.append(_Tok("op", src[i : i + 2], i))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            tokens.append(_Tok("op", ch, i))
            i += 1
        else:
            raise _Error(f"unrecognized character: {ch!r}", i)
    tokens.append(_Tok("eof", None, n))
    return tokens


# --- evaluation context -------------------------------------------------------------------------


class _Ctx:
    """What an expression can see: the environment, extra functions, and inside a closure the
    current element (``#``), its index (``#index``) and the accumulator (``#acc``)."""

    __slots__ = ("acc", "env", "functions", "index", "ptr")

    def __init__(self, env: Mapping[str, Any], functions: Mapping[str, Any]):
        self.env = env
        self.functions = functions
        self.ptr: Any = None
        self.index: int = 0
        self.acc: Any = None

    def closure(self, elem: Any, index: int, acc: Any = None) -> _Ctx:
        ctx = _Ctx(self.env, self.functions)
        ctx.ptr, ctx.index, ctx.acc = elem, index, acc
        return ctx


_MISSING = object()


def _lookup(mapping: Mapping[Any, Any], key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError):
        return _MISSING
    except TypeError:  # an unhashable key
        return _MISSING


# --- values -------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return _go_type(value, nil="nil")


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _equal(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _aware(a) == _aware(b)
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


def _mismatch(op: str, a: Any, b: Any) -> str:
    return f"invalid operation: {op} (mismatched types {_type_name(a)} and {_type_name(b)})"


def _ordered(op: str, a: Any, b: Any, pos: int) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        a, b = _aware(a), _aware(b)
    elif not (
        (is_number(a) and is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, timedelta) and isinstance(b, timedelta))
    ):
        raise _Error(_mismatch(op, a, b), pos)
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _go_int_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _add(a: Any, b: Any, pos: int) -> Any:
    if is_number(a) and is_number(b):
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, datetime) and isinstance(b, timedelta):
        return a + b
    if isinstance(a, timedelta) and isinstance(b, datetime | timedelta):
        return b + a
    raise _Error(f"invalid operation: {_type_name(a)} + {_type_name(b)}", pos)


def _sub(a: Any, b: Any, pos: int) -> Any:
    if is_number(a) and is_number(b):
        return a - b
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _aware(a) - _aware(b)
    if isinstance(a, datetime | timedelta) and isinstance(b, timedelta):
        return a - b
    raise _Error(f"invalid operation: {_type_name(a)} - {_type_name(b)}", pos)


def _arith(op: str, a: Any, b: Any, pos: int) -> Any:
    if op == "+":
        return _add(a, b, pos)
    if op == "-":
        return _sub(a, b, pos)
    if not (is_number(a) and is_number(b)):
        raise _Error(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}", pos)
    if op == "*":
        return a * b
    if op == "/":
        # expr always divides as float64; Go yields ±Inf/NaN on a zero divisor.
        if b == 0:
            return math.nan if a == 0 else math.copysign(math.inf, a)
        return a / b
    if op == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise _Error(f"invalid operation: {_type_name(a)} % {_type_name(b)}", pos)
        if b == 0:
            raise _Error("integer divide by zero", pos)
        return a - b * _go_int_div(a, b)
    try:  # "**" and "^"
        return math.pow(a, b)
    except (OverflowError, ValueError):
        return math.inf if a > 0 else math.nan


def _in(needle: Any, haystack: Any, pos: int) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, Mapping):
        return _lookup(haystack, needle) is not _MISSING
    if isinstance(haystack, list | tuple):
        return any(_equal(item, needle) for item in haystack)
    raise _Error(f'operator "in" not defined on {_type_name(haystack)}', pos)


def _strings(op: str, a: Any, b: Any, pos: int) -> tuple[str, str]:
    if not (isinstance(a, str) and isinstance(b, str)):
        raise _Error(_mismatch(op, a, b), pos)
    return a, b


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _string_op(op: str, a: Any, b: Any, pos: int) -> bool:
    a, b = _strings(op, a, b, pos)
    if op == "contains":
        return b in a
    if op == "startsWith":
        return a.startswith(b)
    if op == "endsWith":
        return a.endswith(b)
    try:  # matches: Go's MatchString finds the pattern anywhere
        return _regex(b).search(a) is not None
    except re.error as exc:
        raise _Error(f"error parsing regexp: {exc}: `{b}`", pos) from None


def _fetch(obj: Any, key: Any, pos: int) -> Any:
    """``obj.key`` / ``obj[key]``: a missing map key is nil; an index outside a list is an error."""
    if isinstance(obj, Mapping):
        value = _lookup(obj, key)
        return None if value is _MISSING else value
    children = getattr(obj, "children", None)
    if isinstance(obj, str) and isinstance(key, str) and isinstance(children, Mapping):
        # Text that also has named parts (Argo's aggregated outputs): `x.name` reads a part.
        value = _lookup(children, key)
        return None if value is _MISSING else value
    if obj is None:
        raise _Error(f"cannot fetch {go_format(key)} from <nil>", pos)
    if isinstance(obj, list | tuple | str):
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if not isinstance(key, int) or isinstance(key, bool):
            raise _Error(f"cannot fetch {go_format(key)} from {_type_name(obj)}", pos)
        seq: Any = obj.encode() if isinstance(obj, str) else obj  # Go indexes strings by byte
        index = key + len(seq) if key < 0 else key
        if not 0 <= index < len(seq):
            raise _Error(f"index out of range: {index} (array length is {len(seq)})", pos)
        return seq[index]
    method = _builtins.method(obj, key) if isinstance(key, str) else None
    if method is not None:
        return method
    if isinstance(key, str) and not key.startswith("_") and hasattr(obj, key):
        return getattr(obj, key)
    raise _Error(f"cannot fetch {go_format(key)} from {_type_name(obj)}", pos)


def _to_index(value: Any, pos: int) -> int:
    if is_number(value) and float(value).is_integer():
        return int(value)
    raise _Error(f"invalid slice index: {go_format(value)}", pos)


# --- tree ---------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("pos",)

    def ev(self, ctx: _Ctx) -> Any:
        raise NotImplementedError


class _Lit(_Node):
    __slots__ = ("value",)

    def __init__(self, value: Any, pos: int):
        self.value, self.pos = value, pos

    def ev(self, ctx: _Ctx) -> Any:
        return self.value


class _Ident(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str, pos: int):
        self.name, self.pos = name, pos

    def ev(self, ctx: _Ctx) -> Any:
        if self.name == "$env":
            return ctx.env
        for scope in (ctx.env, ctx.functions, BUILTIN_FUNCTIONS):
            value = _lookup(scope, self.name)
            if value is not _MISSING:
                return value
        raise _Error(f"unknown name {self.name}", self.pos)


class _Pointer(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str, pos: int):
        self.name, self.pos = name, pos

    def ev(self, ctx: _Ctx) -> Any:
        if self.name == "index":
            return ctx.index
        if self.name == "acc":
            return ctx.acc
        return ctx.ptr


class _Member(_Node):
    __slots__ = ("obj", "optional", "prop")

    def __init__(self, obj: _Node, prop: _Node, optional: bool, pos: int):
        self.obj, self.prop, self.optional, self.pos = obj, prop, optional, pos

    def ev(self, ctx: _Ctx) -> Any:
        obj = self.obj.ev(ctx)
        if obj is None and self.optional:
            raise _NilChain
        return _fetch(obj, self.prop.ev(ctx), self.pos)


class _Chain(_Node):
    """Bounds the reach of ``?.``: a nil before it makes the whole chain nil."""

    __slots__ = ("node",)

    def __init__(self, node: _Node):
        self.node, self.pos = node, node.pos

    def ev(self, ctx: _Ctx) -> Any:
        try:
            return self.node.ev(ctx)
        except _NilChain:
            return None


class _Slice(_Node):
    __slots__ = ("hi", "lo", "obj")

    def __init__(self, obj: _Node, lo: _Node | None, hi: _Node | None, pos: int):
        self.obj, self.lo, self.hi, self.pos = obj, lo, hi, pos

    def ev(self, ctx: _Ctx) -> Any:
        obj = self.obj.ev(ctx)
        if not isinstance(obj, list | tuple | str):
            raise _Error(f"cannot slice {_type_name(obj)}", self.pos)
        lo = 0 if self.lo is None else _to_index(self.lo.ev(ctx), self.pos)
        hi = len(obj) if self.hi is None else _to_index(self.hi.ev(ctx), self.pos)
        result = obj[lo:hi]
        return list(result) if isinstance(result, tuple) else result


class _Unary(_Node):
    __slots__ = ("node", "op")

    def __init__(self, op: str, node: _Node, pos: int):
        self.op, self.node, self.pos = op, node, pos

    def ev(self, ctx: _Ctx) -> Any:
        value = self.node.ev(ctx)
        if self.op in ("!", "not"):
            if not isinstance(value, bool):
                raise _Error(f"invalid operation: {self.op} ({_type_name(value)})", self.pos)
            return not value
        if not is_number(value):
            raise _Error(f"invalid operation: {self.op} ({_type_name(value)})", self.pos)
        return -value if self.op == "-" else value


class _Binary(_Node):
    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: _Node, right: _Node, pos: int):
        self.op, self.left, self.right, self.pos = op, left, right, pos

    def ev(self, ctx: _Ctx) -> Any:
        op = self.op
        left = self.left.ev(ctx)
        if op in ("&&", "and", "||", "or"):
            if not isinstance(left, bool):
                raise _Error(_mismatch(op, left, True), self.pos)
            if left is (op in ("||", "or")):
                return left
            return self.right.ev(ctx)
        if op == "??":
            return left if left is not None else self.right.ev(ctx)
        right = self.right.ev(ctx)
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("<", ">", "<=", ">="):
            return _ordered(op, left, right, self.pos)
        if op == "in":
            return _in(left, right, self.pos)
        if op in ("matches", "contains", "startsWith", "endsWith"):
            return _string_op(op, left, right, self.pos)
        if op == "..":
            if not (isinstance(left, int) and isinstance(right, int)) or isinstance(left, bool):
                raise _Error(_mismatch("..", left, right), self.pos)
            return list(range(left, right + 1))
        return _arith(op, left, right, self.pos)


class _Cond(_Node):
    __slots__ = ("cond", "no", "yes")

    def __init__(self, cond: _Node, yes: _Node | None, no: _Node, pos: int):
        self.cond, self.yes, self.no, self.pos = cond, yes, no, pos

    def ev(self, ctx: _Ctx) -> Any:
        cond = self.cond.ev(ctx)
        if self.yes is None:  # ``a ?: b``
            return cond if cond else self.no.ev(ctx)
        if not isinstance(cond, bool):
            raise _Error(
                f"non-bool expression (type {_type_name(cond)}) used as condition", self.pos
            )
        return self.yes.ev(ctx) if cond else self.no.ev(ctx)


class _Array(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node], pos: int):
        self.items, self.pos = items, pos

    def ev(self, ctx: _Ctx) -> Any:
        return [item.ev(ctx) for item in self.items]


class _Map(_Node):
    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[_Node, _Node]], pos: int):
        self.pairs, self.pos = pairs, pos

    def ev(self, ctx: _Ctx) -> Any:
        return {key.ev(ctx): value.ev(ctx) for key, value in self.pairs}


class _Closure(_Node):
    """A predicate argument such as ``{# > 1}``: evaluated per element by a builtin."""

    __slots__ = ("body",)

    def __init__(self, body: _Node, pos: int):
        self.body, self.pos = body, pos

    def ev(self, ctx: _Ctx) -> Any:
        body = self.body

        def call(elem: Any, index: int = 0, acc: Any = None) -> Any:
            return body.ev(ctx.closure(elem, index, acc))

        return call


def _invoke(fn: Any, name: str, args: list[Any], pos: int, *, foreign: bool = False) -> Any:
    """Call ``fn``; ``foreign`` marks a caller's (a plugin's) function, whose failure is final."""
    if not callable(fn):
        raise _Error(f"{name} is not a function (type {_type_name(fn)})", pos)
    try:
        return fn(*args)
    except (ExpressionError, _Error, _NilChain):
        raise
    except Exception as exc:  # a function's own failure is the expression's error
        error = _FunctionError if foreign else _Error
        raise error(
            f"{name}: {exc}" if str(exc) else f"{name}: {type(exc).__name__}", pos
        ) from exc


class _Call(_Node):
    __slots__ = ("args", "callee")

    def __init__(self, callee: _Node, args: list[_Node], pos: int):
        self.callee, self.args, self.pos = callee, args, pos

    def ev(self, ctx: _Ctx) -> Any:
        foreign = False
        if isinstance(self.callee, _Ident):
            name = self.callee.name
            fn = _lookup(ctx.functions, name)
            foreign = fn is not _MISSING
            if not foreign:
                fn = self._resolve(ctx, name)
        else:
            fn = self.callee.ev(ctx)
            name = _describe(self.callee)
        return _invoke(fn, name, [arg.ev(ctx) for arg in self.args], self.pos, foreign=foreign)

    def _resolve(self, ctx: _Ctx, name: str) -> Any:
        for scope in (_builtins.FUNCTIONS, BUILTIN_FUNCTIONS, ctx.env):
            fn = _lookup(scope, name)
            if fn is not _MISSING:
                return fn
        raise _FunctionError(f"unknown func {name}", self.pos)


class _Builtin(_Node):
    """A builtin taking a closure (``filter``, ``map``…); caller functions don't shadow it."""

    __slots__ = ("args", "name")

    def __init__(self, name: str, args: list[_Node], pos: int):
        self.name, self.args, self.pos = name, args, pos

    def ev(self, ctx: _Ctx) -> Any:
        args = [arg.ev(ctx) for arg in self.args]
        return _invoke(_builtins.PREDICATES[self.name], self.name, args, self.pos)


def _describe(node: _Node) -> str:
    if isinstance(node, _Ident):
        return node.name
    if isinstance(node, _Member) and isinstance(node.prop, _Lit):
        return f"{_describe(node.obj)}.{node.prop.value}"
    if isinstance(node, _Chain):
        return _describe(node.node)
    return "function"


# --- parser -------------------------------------------------------------------------------------

_BINARY: dict[str, tuple[int, bool]] = {  # operator -> (precedence, right-associative)
    "|": (0, False),
    "or": (10, False),
    "||": (10, False),
    "and": (15, False),
    "&&": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    ">=": (20, False),
    "<=": (20, False),
    "in": (20, False),
    "matches": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_NEGATABLE = {"contains", "matches", "startsWith", "endsWith", "in"}
_COMPARISONS = {"<", ">", "<=", ">="}


class _Parser:
    def __init__(self, src: str):
        self.tokens = _tokenize(src)
        self.i = 0
        self.depth = 0  # closure nesting: ``#`` and ``.field`` are only valid inside one

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def advance(self) -> _Tok:
        tok = self.tokens[self.i]
        if tok.kind != "eof":
            self.i += 1
        return tok

    def expect_op(self, value: str) -> _Tok:
        if not self.tok.is_op(value):
            raise self.unexpected()
        return self.advance()

    def expect_bracket(self, value: str) -> _Tok:
        if not self.tok.is_bracket(value):
            raise self.unexpected()
        return self.advance()

    def unexpected(self) -> _Error:
        tok = self.tok
        if tok.kind == "eof":
            return _Error("unexpected end of expression", tok.pos)
        return _Error(f"unexpected token {tok.kind.capitalize()}({tok.value!r})", tok.pos)

    def parse(self) -> _Node:
        node = self.expression(0)
        if self.tok.kind != "eof":
            raise self.unexpected()
        return node

    def expression(self, min_prec: int) -> _Node:
        left = self.primary()
        prev = ""
        while self.tok.kind == "op":
            op_tok = self.tok
            op, negate = op_tok.value, False
            if op == "not":
                nxt = self.tokens[self.i + 1]
                if not (nxt.is_op() and nxt.value in _NEGATABLE):
                    raise _Error(f"unexpected token Operator({nxt.value!r})", nxt.pos)
                if _BINARY[nxt.value][0] < min_prec:
                    break
                self.advance()
                op_tok, op, negate = self.tok, nxt.value, True
            if op not in _BINARY or _BINARY[op][0] < min_prec:
                break
            prec, right_assoc = _BINARY[op]
            self.advance()
            if op == "|":
                left = self.pipe(left)
            elif prev == "??" and op != "??":
                raise _Error(
                    f"Operator ({op}) and coalesce expressions (??) cannot be mixed. "
                    "Wrap either by parentheses.",
                    op_tok.pos,
                )
            elif op in _COMPARISONS:
                left = self.comparison(left, op_tok, prec)
            else:
                right = self.expression(prec if right_assoc else prec + 1)
                left = _Binary(op, left, right, op_tok.pos)
                if negate:
                    left = _Unary("not", left, op_tok.pos)
            prev = op
        if min_prec == 0:
            left = self.conditional(left)
        return left

    def comparison(self, left: _Node, op_tok: _Tok, prec: int) -> _Node:
        """``a < b < c`` means ``a < b && b < c``."""
        root: _Node | None = None
        while True:
            right = self.expression(prec + 1)
            cmp = _Binary(op_tok.value, left, right, op_tok.pos)
            root = cmp if root is None else _Binary("&&", root, cmp, op_tok.pos)
            left = right
            if not (self.tok.is_op() and self.tok.value in _COMPARISONS):
                return root
            op_tok = self.advance()

    def pipe(self, left: _Node) -> _Node:
        name = self.tok
        if name.kind != "ident":
            raise self.unexpected()
        self.advance()
        return self.call(name, [left])

    def conditional(self, node: _Node) -> _Node:
        while self.tok.is_op("?"):
            pos = self.advance().pos
            if self.tok.is_op(":"):
                self.advance()
                node = _Cond(node, None, self.expression(0), pos)
                continue
            yes = self.expression(0)
            self.expect_op(":")
            node = _Cond(node, yes, self.expression(0), pos)
        return node

    def primary(self) -> _Node:
        tok = self.tok
        if tok.kind == "op" and tok.value in _UNARY:
            self.advance()
            operand = self.expression(_UNARY[tok.value])
            return self.postfix(_Unary(tok.value, operand, tok.pos))
        if tok.is_bracket("("):
            self.advance()
            inner = self.expression(0)
            self.expect_bracket(")")
            return self.postfix(inner)
        if self.depth > 0 and tok.is_op("#", "."):
            name = ""
            if tok.is_op("#"):
                self.advance()
                if self.tok.kind == "ident":
                    name = self.advance().value
                    if name not in ("index", "acc"):
                        raise _Error(f"unknown pointer #{name}", tok.pos)
            return self.postfix(_Pointer(name, tok.pos))
        return self.secondary()

    def secondary(self) -> _Node:
        tok = self.advance()
        node: _Node
        if tok.kind == "ident":
            if tok.value in ("true", "false"):
                return _Lit(tok.value == "true", tok.pos)
            if tok.value == "nil":
                return _Lit(None, tok.pos)
            node = self.call(tok, []) if self.tok.is_bracket("(") else _Ident(tok.value, tok.pos)
        elif tok.kind == "num":
            return _Lit(tok.value, tok.pos)
        elif tok.kind == "str":
            node = _Lit(tok.value, tok.pos)
        elif tok.is_bracket("["):
            node = self.array(tok)
        elif tok.is_bracket("{"):
            node = self.map(tok)
        else:
            self.i -= 1 if tok.kind != "eof" else 0
            raise self.unexpected()
        return self.postfix(node)

    def call(self, name: _Tok, args: list[_Node]) -> _Node:
        spec = _builtins.PREDICATE_ARGS.get(name.value)
        if spec is None:
            return _Call(_Ident(name.value, name.pos), self.arguments(args), name.pos)
        self.expect_bracket("(")
        for i, kind in enumerate(spec[len(args) :]):
            optional = kind.endswith("?")
            if self.tok.is_bracket(")"):
                if optional:
                    break
                raise _Error(f"expected at least {len(spec)} arguments", self.tok.pos)
            if i > 0:
                self.expect_op(",")
            args.append(self.closure() if kind.startswith("closure") else self.expression(0))
        if self.tok.is_op(","):
            self.advance()
        self.expect_bracket(")")
        return _Builtin(name.value, args, name.pos)

    def arguments(self, args: list[_Node]) -> list[_Node]:
        offset = len(args)
        self.expect_bracket("(")
        while not self.tok.is_bracket(")"):
            if len(args) > offset:
                self.expect_op(",")
                if self.tok.is_bracket(")"):
                    break
            args.append(self.expression(0))
        self.expect_bracket(")")
        return args

    def closure(self) -> _Node:
        start = self.tok
        braces = start.is_bracket("{")
        if braces:
            self.advance()
        self.depth += 1
        body = self.expression(0)
        self.depth -= 1
        if braces:
            self.expect_bracket("}")
        return _Closure(body, start.pos)

    def array(self, tok: _Tok) -> _Node:
        items: list[_Node] = []
        while not self.tok.is_bracket("]"):
            if items:
                self.expect_op(",")
                if self.tok.is_bracket("]"):
                    break
            items.append(self.expression(0))
        self.expect_bracket("]")
        return _Array(items, tok.pos)

    def map(self, tok: _Tok) -> _Node:
        pairs: list[tuple[_Node, _Node]] = []
        while not self.tok.is_bracket("}"):
            if pairs:
                self.expect_op(",")
                if self.tok.is_bracket("}"):
                    break
            key_tok = self.tok
            key: _Node
            if key_tok.kind in ("num", "str", "ident") or (
                key_tok.kind == "op" and key_tok.value.isalpha()
            ):
                self.advance()
                text = key_tok.value if key_tok.kind != "num" else go_format(key_tok.value)
                key = _Lit(text, key_tok.pos)
            elif key_tok.is_bracket("("):
                key = self.expression(0)
            else:
                raise _Error(
                    "a map key must be a quoted string, a number, a identifier, or an "
                    "expression enclosed in parentheses",
                    key_tok.pos,
                )
            self.expect_op(":")
            pairs.append((key, self.expression(0)))
        self.expect_bracket("}")
        return _Map(pairs, tok.pos)

    def postfix(self, node: _Node) -> _Node:
        chained = False
        while True:
            tok = self.tok
            optional = tok.is_op("?.")
            if tok.is_op(".", "?.") and not (optional and self.tokens[self.i + 1].is_bracket("[")):
                self.advance()
                prop = self.advance()
                if prop.kind != "ident" and not (prop.kind == "op" and prop.value.isalpha()):
                    raise _Error("expected name", prop.pos)
                node = _Member(node, _Lit(prop.value, prop.pos), optional, prop.pos)
                if self.tok.is_bracket("("):
                    node = _Call(node, self.arguments([]), prop.pos)
            elif tok.is_bracket("[") or optional:
                if optional:
                    self.advance()
                node = self.subscript(node, optional)
            else:
                break
            chained = chained or optional
        return _Chain(node) if chained else node

    def subscript(self, node: _Node, optional: bool) -> _Node:
        pos = self.expect_bracket("[").pos
        lo = hi = None
        if self.tok.is_op(":"):
            self.advance()
            if not self.tok.is_bracket("]"):
                hi = self.expression(0)
            self.expect_bracket("]")
            return _Slice(node, None, hi, pos)
        lo = self.expression(0)
        if self.tok.is_op(":"):
            self.advance()
            if not self.tok.is_bracket("]"):
                hi = self.expression(0)
            self.expect_bracket("]")
            return _Slice(node, lo, hi, pos)
        self.expect_bracket("]")
        return _Member(node, lo, optional, pos)


@lru_cache(maxsize=4096)
def _compile(source: str) -> _Node:
    return _Parser(source).parse()


def _where(source: str, pos: int) -> str:
    line = source.count("\n", 0, pos) + 1
    column = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{column}"


def evaluate_expr(
    source: str,
    env: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Evaluate an expr-language expression against ``env`` and return a plain Python value.

    Names resolve in ``env`` first, then ``functions``, then Argo's functions (``asInt``,
    ``jsonpath``, ``sprig``…); calls resolve in ``functions`` first, then expr's builtins, Argo's
    functions and callables in ``env``. A missing map key is nil; an unknown top-level name is an
    error. Raises ExpressionError naming the expression, the reason and the line:column; its
    subclass FunctionError when a called function does not exist or one of ``functions`` raised.
    """
    try:
        tree = _compile(source)
    except _Error as exc:
        raise ExpressionError(
            f"invalid expression '{source}': {exc.message} ({_where(source, exc.pos)})"
        ) from None
    try:
        return tree.ev(_Ctx(env, functions or {}))
    except _Error as exc:
        error = FunctionError if isinstance(exc, _FunctionError) else ExpressionError
        raise error(
            f"cannot evaluate expression '{source}': {exc.message} ({_where(source, exc.pos)})"
        ) from None
    except RecursionError:
        raise ExpressionError(f"cannot evaluate expression '{source}': too deeply nested") from None


def called_functions(source: str) -> set[str]:
    """The names ``source`` calls as functions (``f(x)``), for lint; none if it does not parse."""
    try:
        stack: list[Any] = [_compile(source)]
    except _Error:
        return set()
    names = set()
    while stack:
        node = stack.pop()
        if isinstance(node, _Call) and isinstance(node.callee, _Ident):
            names.add(node.callee.name)
        for cls in type(node).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                value = getattr(node, slot, None)
                items = value if isinstance(value, list | tuple) else [value]
                stack.extend(item for item in items if isinstance(item, _Node))
    return names


def is_function(name: str, functions: Collection[str] = ()) -> bool:
    """Whether a call of ``name`` finds a function: Argo's, expr's, or one of ``functions``."""
    return name in functions or any(
        _lookup(scope, name) is not _MISSING for scope in (_builtins.FUNCTIONS, BUILTIN_FUNCTIONS))
