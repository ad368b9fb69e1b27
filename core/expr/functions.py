"""Argo's expression functions (``asInt``, ``jsonpath``, ``toJson``, ``sprig.*``) and Go-compatible
value formatting shared by the expression evaluators.

Argo evaluates expressions in Go, so what users see (``string(1.0)`` is ``"1"``, ``toJson`` sorts
map keys and escapes ``<``) follows Go's ``fmt`` and ``encoding/json``; the helpers here reproduce
those rules for plain Python values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from argosy.spec.durations import sum_of_units

__all__ = [
    "BUILTIN_FUNCTIONS",
    "SPRIG",
    "as_float",
    "as_int",
    "format_go_time",
    "go_format",
    "is_number",
    "jsonpath",
    "parse_go_duration",
    "parse_time",
    "to_json",
]


def is_number(value: Any) -> bool:
    """True for int and float but not bool (Python's bool is an int; Go's is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- Go fmt %v -------------------------------------------------------------------------------


def _float_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite non-zero float and its decimal point position."""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + int(exponent)
    return text, point


def go_float(value: float, *, json_style: bool = False) -> str:
    """Format a float like Go's ``%v`` (``strconv 'g'``, shortest) or like ``encoding/json``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 and not json_style else "0"
    digits, point = _float_digits(value)
    exp = point - 1
    sign = "-" if value < 0 else ""
    # encoding/json switches to exponent form outside [1e-6, 1e21); fmt's shortest 'g' when the
    # decimal exponent is below -4 or at least 6.
    use_exp = (abs(value) < 1e-6 or abs(value) >= 1e21) if json_style else (exp < -4 or exp >= 6)
    if use_exp:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        esign = "-" if exp < 0 else "+"
        # encoding/json trims a negative exponent's leading zero (1e-07 -> 1e-7).
        width = 1 if json_style and exp < 0 else 2
        return f"{sign}{mant}e{esign}{abs(exp):0{width}d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_format(value: Any) -> str:
    """Format a value like Go's ``fmt.Sprintf("%v", v)`` for the types expressions produce."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return _go_time_string(value)
    if isinstance(value, timedelta):
        return go_duration_string(value)
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{go_format(k)}:{go_format(v)}" for k, v in items) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    return str(value)


# --- Go encoding/json --------------------------------------------------------------------------


_JSON_HTML = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _json_string(text: str) -> str:
    # Go's json.Marshal escapes HTML-significant characters by default.
    encoded = json.dumps(text, ensure_ascii=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_HTML[m.group()], encoded)


def _json_encode(value: Any, indent: str, level: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"json: unsupported value: {go_float(value)}")
        # A number read from JSON keeps the text it was written with (json.Number in Go).
        return getattr(value, "text", None) or go_float(value, json_style=True)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, datetime):
        return _json_string(value.isoformat().replace("+00:00", "Z"))
    if isinstance(value, timedelta):
        return str(round(value.total_seconds() * 1e9))
    newline = "\n" + indent * (level + 1) if indent else ""
    close = "\n" + indent * level if indent else ""
    sep = ": " if indent else ":"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        # Go sorts map keys when marshalling.
        parts = [
            f"{newline}{_json_string(str(k))}{sep}{_json_encode(v, indent, level + 1)}"
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        ]
        return "{" + ",".join(parts) + close + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        parts = [f"{newline}{_json_encode(v, indent, level + 1)}" for v in value]
        return "[" + ",".join(parts) + close + "]"
    raise ValueError(f"json: unsupported type: {type(value).__name__}")


def to_json(value: Any, indent: str = "") -> str:
    """Marshal like Go's ``json.Marshal`` (compact) or ``json.MarshalIndent(v, "", indent)``."""
    return _json_encode(value, indent, 0)


def from_json(text: str) -> Any:
    return json.loads(text)


# --- numbers (expr's int/float builtins, which Argo aliases as asInt/asFloat) ---------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity|nan)"
)


def as_int(value: Any) -> int:
    """expr's ``int()``: truncates numbers, parses base-10 strings like Go's strconv.Atoi."""
    if is_number(value):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise ValueError(f"invalid operation: int({go_format(value)})")
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    if isinstance(value, str):
        raise ValueError(f"invalid operation: int({value})")
    raise ValueError(f"invalid operation: int({_go_type(value)})")


def as_float(value: Any) -> float:
    """expr's ``float()``: converts numbers, parses strings like Go's strconv.ParseFloat."""
    if is_number(value):
        return float(value)
    if isinstance(value, str) and _FLOAT_RE.fullmatch(value):
        return float(value)
    if isinstance(value, str):
        raise ValueError(f"invalid operation: float({value})")
    raise ValueError(f"invalid operation: float({_go_type(value)})")


def _go_type(value: Any, nil: str = "<nil>") -> str:
    """The Go type name Argo's error messages use for a value."""
    if value is None:
        return nil
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, datetime):
        return "time.Time"
    if isinstance(value, timedelta):
        return "time.Duration"
    if callable(value):
        return "func"
    return type(value).__name__


# --- jsonpath ------------------------------------------------------------------------------------


def jsonpath(json_string: str, path: str) -> Any:
    """Argo's ``jsonpath(json, path)``: a definite path (``$.a``, ``$[0].b``) yields its value,
    any other path (wildcard, filter, slice, recursive descent, union) yields the list of matches.
    A definite path that matches nothing is an error, as in Argo's jsonpath library."""
    if not isinstance(json_string, str):
        raise ValueError(f"jsonpath: expected a JSON string, got {_go_type(json_string)}")
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as exc:
        raise ValueError(f"jsonpath: invalid JSON: {exc}") from exc
    import jsonpath as _jsonpath  # a tenth of a second to import: only when an expression calls it

    try:
        compiled = _jsonpath.compile(path)
        matches = compiled.findall(data)
    except _jsonpath.JSONPathError as exc:
        raise ValueError(f"invalid JSONPath selector '{path}': {exc}") from exc
    if compiled.singular_query():
        if not matches:
            raise ValueError(f"jsonpath: '{path}' matched nothing")
        return matches[0]
    return matches


# --- time ------------------------------------------------------------------------------------

# Compiled on first use (re caches it), as _GO_LAYOUT below: `{{…}}` substitution imports
# this module.
_RFC3339 = (r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
            r"\s*([Zz]|[+-]\d{2}:?\d{2})?")


def parse_time(text: str, *, default_tz: timezone | None = UTC) -> datetime | None:
    """Parse an RFC 3339 / ISO 8601 timestamp or date; None when ``text`` is not one."""
    m = re.fullmatch(_RFC3339, text.strip())
    if not m:
        return None
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tz: timezone | None = default_tz
    if zone and zone.upper() == "Z":
        tz = UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(sec or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        return None


_GO_LAYOUT_TOKENS = [
    "January",
    "Monday",
    "2006",
    "-07:00:00",
    "-0700",
    "-07:00",
    "Z07:00",
    "Z0700",
    "Jan",
    "Mon",
    "MST",
    "002",
    "__2",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "-07",
    "Z07",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
]
_GO_LAYOUT = r"[.,](?:0+|9+)(?!\d)|" + "|".join(re.escape(t) for t in _GO_LAYOUT_TOKENS)


def _zone(dt: datetime, colon: bool, z: bool, seconds: bool = False) -> str:
    offset = dt.utcoffset() or timedelta(0)
    if z and offset == timedelta(0):
        return "Z"
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hh, mm, ss = total // 3600, (total % 3600) // 60, total % 60
    sep = ":" if colon else ""
    text = f"{sign}{hh:02d}{sep}{mm:02d}"
    return text + f"{sep}{ss:02d}" if seconds else text


def _layout_chunk(token: str, dt: datetime) -> str:
    hour12 = dt.hour % 12 or 12
    simple: dict[str, Callable[[], str]] = {
        "2006": lambda: f"{dt.year:04d}",
        "06": lambda: f"{dt.year % 100:02d}",
        "January": lambda: dt.strftime("%B"),
        "Jan": lambda: dt.strftime("%b"),
        "01": lambda: f"{dt.month:02d}",
        "1": lambda: str(dt.month),
        "Monday": lambda: dt.strftime("%A"),
        "Mon": lambda: dt.strftime("%a"),
        "02": lambda: f"{dt.day:02d}",
        "2": lambda: str(dt.day),
        "_2": lambda: f"{dt.day:2d}",
        "002": lambda: f"{dt.timetuple().tm_yday:03d}",
        "__2": lambda: f"{dt.timetuple().tm_yday:3d}",
        "15": lambda: f"{dt.hour:02d}",
        "03": lambda: f"{hour12:02d}",
        "3": lambda: str(hour12),
        "04": lambda: f"{dt.minute:02d}",
        "4": lambda: str(dt.minute),
        "05": lambda: f"{dt.second:02d}",
        "5": lambda: str(dt.second),
        "PM": lambda: "PM" if dt.hour >= 12 else "AM",
        "pm": lambda: "pm" if dt.hour >= 12 else "am",
        "MST": lambda: dt.tzname() or _zone(dt, False, False),
        "-0700": lambda: _zone(dt, False, False),
        "-07:00": lambda: _zone(dt, True, False),
        "-07": lambda: _zone(dt, False, False)[:3],
        "-07:00:00": lambda: _zone(dt, True, False, True),
        "Z0700": lambda: _zone(dt, False, True),
        "Z07:00": lambda: _zone(dt, True, True),
        "Z07": lambda: _zone(dt, False, True)[:3],
    }
    if token in simple:
        return simple[token]()
    # Fractional seconds: ".000" is fixed width, ".999" drops trailing zeros.
    width = len(token) - 1
    digits = f"{dt.microsecond:06d}000"[:width]
    if token[1] == "9":
        digits = digits.rstrip("0")
        return token[0] + digits if digits else ""
    return token[0] + digits


def format_go_time(layout: str, dt: datetime) -> str:
    """Format ``dt`` with a Go reference-time layout such as ``2006-01-02T15:04:05Z07:00``."""
    return re.sub(_GO_LAYOUT, lambda m: _layout_chunk(m.group(), dt), layout)


def _go_time_string(dt: datetime) -> str:
    return format_go_time("2006-01-02 15:04:05.999999999 -0700 MST", dt)


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> timedelta:
    """Parse a Go duration string such as ``1h30m`` or ``-2.5s``."""
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if body == "0":
        return timedelta(0)
    seconds = sum_of_units(body, _DURATION_UNITS)
    if seconds is None:
        raise ValueError(f'time: invalid duration "{text}"')
    return timedelta(seconds=sign * seconds)


def go_duration_string(delta: timedelta) -> str:
    """Format like Go's ``time.Duration.String()`` (``1h2m3s``, ``1.5s``, ``0s``)."""
    total_us = delta // timedelta(microseconds=1)
    if total_us == 0:
        return "0s"
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    if total_us < 1_000_000:
        if total_us < 1000:
            return f"{sign}{total_us}µs"
        return f"{sign}{go_float(total_us / 1000)}ms"
    hours, rem = divmod(total_us, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    secs = go_float(rem / 1_000_000)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + f"{secs}s"


# --- sprig ---------------------------------------------------------------------------------------


def _strval(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return go_format(value)


def _to_int64(value: Any) -> int:
    """spf13/cast ToInt64 as sprig uses it: lenient, 0 when not convertible."""
    if isinstance(value, bool):
        return int(value)
    if is_number(value):
        return int(value) if not (isinstance(value, float) and not math.isfinite(value)) else 0
    if isinstance(value, str):
        text = value
        if "." in text:
            head, _, tail = text.partition(".")
            if tail.strip("0") == "":
                text = head
        try:
            return int(text, 0)
        except ValueError:
            return 0
    return 0


def _to_float64(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if is_number(value):
        return value == 0
    if isinstance(value, str | bytes | Mapping | list | tuple):
        return len(value) == 0
    if isinstance(value, datetime):
        return False
    return False


def _sprig_default(default: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return default
    return given[0]


def _b64dec(text: str) -> str:
    try:
        return base64.b64decode(_strval(text), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError) as exc:
        return f"illegal base64 data: {exc}"  # sprig returns the error text, not an error


def _as_time(value: Any) -> datetime:
    """sprig's date functions accept time values and unix seconds; strings are parsed here too."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if is_number(value):
        return datetime.fromtimestamp(int(value), tz=UTC)
    if isinstance(value, str):
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return datetime.now(UTC)


def _sprig_date(layout: str, value: Any) -> str:
    # sprig formats in the Local zone; Argo runs in UTC, which is what we use.
    return format_go_time(layout, _as_time(value).astimezone(UTC))


def _date_in_zone(layout: str, value: Any, zone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        tz: Any = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return format_go_time(layout, _as_time(value).astimezone(tz))


def _go_replacement(repl: str) -> Callable[[re.Match[str]], str]:
    """Expand Go regexp replacement templates (``$1``, ``${name}``) for a match."""

    def expand(m: re.Match[str]) -> str:
        def group(g: re.Match[str]) -> str:
            if g.group(0) == "$$":
                return "$"
            name = g.group(1) or g.group(2)
            try:
                return m.group(int(name) if name.isdigit() else name) or ""
            except (IndexError, re.error):
                return ""  # Go expands unknown groups to the empty string

        return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", group, repl)

    return expand


def _regex_replace_all(regex: str, text: str, repl: str) -> str:
    return re.sub(regex, _go_replacement(repl), text)


def _regex_find(regex: str, text: str) -> str:
    m = re.search(regex, text)
    return m.group(0) if m else ""


def _sprig_split(sep: str, text: str) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(_strval(text).split(sep))}


def _sprig_join(sep: str, values: Any) -> str:
    if isinstance(values, list | tuple):
        return sep.join(_strval(v) for v in values if v is not None)
    return _strval(values)


def _sprig_dict(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[_strval(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


def _sprig_from_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return {}


def _sprig_max(first: Any, *rest: Any) -> int:
    return max([_to_int64(first), *(_to_int64(v) for v in rest)])


def _sprig_min(first: Any, *rest: Any) -> int:
    return min([_to_int64(first), *(_to_int64(v) for v in rest)])


def _go_div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _go_mod(a: int, b: int) -> int:
    return a - b * _go_div(a, b)


def _substr(start: Any, end: Any, text: str) -> str:
    s, e = _to_int64(start), _to_int64(end)
    if s < 0:
        return text[:e]
    if e < 0 or e > len(text):
        return text[s:]
    return text[s:e]


def _trunc(length: Any, text: str) -> str:
    n = _to_int64(length)
    if n < 0 and len(text) + n > 0:
        return text[len(text) + n :]
    if n >= 0 and len(text) > n:
        return text[:n]
    return text


class Namespace(dict[str, Callable[..., Any]]):
    """A map of functions that also answers attribute access (``sprig.add``)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


SPRIG = Namespace(
    {
        # strings
        "trim": lambda s: _strval(s).strip(),
        "trimAll": lambda cut, s: _strval(s).strip(cut),
        "trimPrefix": lambda p, s: _strval(s).removeprefix(p),
        "trimSuffix": lambda p, s: _strval(s).removesuffix(p),
        "upper": lambda s: _strval(s).upper(),
        "lower": lambda s: _strval(s).lower(),
        "title": lambda s: re.sub(r"\b\w", lambda m: m.group().upper(), _strval(s)),
        "replace": lambda old, new, s: _strval(s).replace(old, new),
        "contains": lambda sub, s: sub in _strval(s),
        "hasPrefix": lambda p, s: _strval(s).startswith(p),
        "hasSuffix": lambda p, s: _strval(s).endswith(p),
        "repeat": lambda n, s: _strval(s) * max(_to_int64(n), 0),
        "substr": _substr,
        "trunc": _trunc,
        "nospace": lambda s: re.sub(r"\s", "", _strval(s)),
        "quote": lambda *xs: " ".join(
            json.dumps(_strval(x), ensure_ascii=False) for x in xs if x is not None
        ),
        "squote": lambda *xs: " ".join(f"'{_strval(x)}'" for x in xs if x is not None),
        "cat": lambda *xs: " ".join(_strval(x) for x in xs if x is not None),
        "indent": lambda n, s: "\n".join(" " * _to_int64(n) + ln for ln in _strval(s).split("\n")),
        "toString": _strval,
        "toStrings": lambda xs: [_strval(x) for x in xs],
        "split": _sprig_split,
        "splitList": lambda sep, s: _strval(s).split(sep),
        "join": _sprig_join,
        # numbers
        "add": lambda *xs: sum(_to_int64(x) for x in xs),
        "add1": lambda x: _to_int64(x) + 1,
        "sub": lambda a, b: _to_int64(a) - _to_int64(b),
        "mul": lambda a, *xs: math.prod([_to_int64(a), *(_to_int64(x) for x in xs)]),
        "div": lambda a, b: _go_div(_to_int64(a), _to_int64(b)),
        "mod": lambda a, b: _go_mod(_to_int64(a), _to_int64(b)),
        "max": _sprig_max,
        "min": _sprig_min,
        "addf": lambda *xs: sum(_to_float64(x) for x in xs),
        "subf": lambda a, *xs: _to_float64(a) - sum(_to_float64(x) for x in xs),
        "mulf": lambda a, *xs: math.prod([_to_float64(a), *(_to_float64(x) for x in xs)]),
        "divf": lambda a, *xs: _divf(_to_float64(a), *xs),
        "floor": lambda x: float(math.floor(_to_float64(x))),
        "ceil": lambda x: float(math.ceil(_to_float64(x))),
        "round": lambda x, p=0: round(_to_float64(x), _to_int64(p)),
        "atoi": _to_int64,
        "int": _to_int64,
        "int64": _to_int64,
        "float64": _to_float64,
        # defaults and types
        "default": _sprig_default,
        "empty": _empty,
        "coalesce": lambda *xs: next((x for x in xs if not _empty(x)), None),
        "ternary": lambda vt, vf, cond: vt if cond else vf,
        "toJson": lambda v: to_json(v),
        "toPrettyJson": lambda v: to_json(v, "  "),
        "fromJson": _sprig_from_json,
        "kindIs": lambda kind, v: _kind(v) == kind,
        "kindOf": lambda v: _kind(v),
        # lists and dicts
        "list": lambda *xs: list(xs),
        "first": lambda xs: xs[0] if xs else None,
        "last": lambda xs: xs[-1] if xs else None,
        "has": lambda needle, xs: needle in xs,
        "uniq": lambda xs: list(dict.fromkeys(xs)),
        "dict": _sprig_dict,
        "get": lambda d, k: d.get(k, ""),
        "hasKey": lambda d, k: k in d,
        "keys": lambda *ds: [k for d in ds for k in d],
        "values": lambda d: list(d.values()),
        "pluck": lambda k, *ds: [d[k] for d in ds if k in d],
        # encoding and crypto
        "b64enc": lambda s: base64.b64encode(_strval(s).encode()).decode(),
        "b64dec": _b64dec,
        "b32enc": lambda s: base64.b32encode(_strval(s).encode()).decode(),
        "sha1sum": lambda s: hashlib.sha1(_strval(s).encode()).hexdigest(),
        "sha256sum": lambda s: hashlib.sha256(_strval(s).encode()).hexdigest(),
        "adler32sum": lambda s: str(__import__("zlib").adler32(_strval(s).encode())),
        # regular expressions
        "regexMatch": lambda rx, s: re.search(rx, s) is not None,
        "regexFind": _regex_find,
        "regexFindAll": lambda rx, s, n: re.findall(rx, s)[: n if n >= 0 else None],
        "regexReplaceAll": _regex_replace_all,
        "regexReplaceAllLiteral": lambda rx, s, repl: re.sub(rx, lambda _m: repl, s),
        "regexSplit": lambda rx, s, n: re.split(rx, s, maxsplit=max(n - 1, 0) if n > 0 else 0),
        # dates
        "now": lambda: datetime.now(UTC),
        "date": _sprig_date,
        "dateInZone": _date_in_zone,
        "toDate": lambda layout, s: parse_time(s) or datetime.now(UTC),
        "unixEpoch": lambda t: str(int(_as_time(t).timestamp())),
        "dateModify": lambda d, t: _as_time(t) + parse_go_duration(d),
        "duration": lambda sec: go_duration_string(timedelta(seconds=_to_int64(sec))),
    }
)


def _divf(a: float, *xs: Any) -> float:
    for x in xs:
        d = _to_float64(x)
        a = a / d if d else math.copysign(math.inf, a) if a else math.nan
    return a


def _kind(value: Any) -> str:
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, Sequence):
        return "slice"
    return "struct"


BUILTIN_FUNCTIONS: dict[str, Any] = {
    # Argo aliases expr's int/float builtins for backwards compatibility.
    "asInt": as_int,
    "asFloat": as_float,
    "string": go_format,
    "toJson": to_json,
    "jsonpath": jsonpath,
    "sprig": SPRIG,
}
