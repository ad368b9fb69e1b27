"""expr-lang's builtin functions, closure-taking builtins and Go-style methods on time values.

Semantics follow expr's builtin package (Go): ``ceil``/``floor``/``round`` return floats,
``split`` with an empty separator splits into characters, ``first`` of an empty array is nil.
"""

from __future__ import annotations

import base64
import binascii
import math
import statistics
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from argosy.expr.functions import (
    as_float,
    as_int,
    format_go_time,
    from_json,
    go_duration_string,
    go_format,
    is_number,
    parse_go_duration,
    parse_time,
    to_json,
)

__all__ = ["FUNCTIONS", "PREDICATES", "PREDICATE_ARGS", "method"]


def _require_str(name: str, *values: Any) -> None:
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"invalid argument for {name} (type {type(value).__name__})")


def _items(name: str, value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(
        f"cannot iterate over {go_format(value) if value is None else type(value).__name__}"
        f" in {name}"
    )


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"predicate of {name} must return a bool, got {go_format(value)}")
    return value


# --- closure-taking builtins (the predicate is called as fn(element, index[, acc])) ------------


def _all(xs: Any, fn: Callable[..., Any]) -> bool:
    return all(_bool("all", fn(x, i)) for i, x in enumerate(_items("all", xs)))


def _any(xs: Any, fn: Callable[..., Any]) -> bool:
    return any(_bool("any", fn(x, i)) for i, x in enumerate(_items("any", xs)))


def _none(xs: Any, fn: Callable[..., Any]) -> bool:
    return not any(_bool("none", fn(x, i)) for i, x in enumerate(_items("none", xs)))


def _one(xs: Any, fn: Callable[..., Any]) -> bool:
    return sum(_bool("one", fn(x, i)) for i, x in enumerate(_items("one", xs))) == 1


def _filter(xs: Any, fn: Callable[..., Any]) -> list[Any]:
    return [x for i, x in enumerate(_items("filter", xs)) if _bool("filter", fn(x, i))]


def _map(xs: Any, fn: Callable[..., Any]) -> list[Any]:
    return [fn(x, i) for i, x in enumerate(_items("map", xs))]


def _count(xs: Any, fn: Callable[..., Any] | None = None) -> int:
    items = _items("count", xs)
    if fn is None:
        return sum(1 for x in items if _bool("count", x))
    return sum(1 for i, x in enumerate(items) if _bool("count", fn(x, i)))


def _sum(xs: Any, fn: Callable[..., Any] | None = None) -> Any:
    values = [x if fn is None else fn(x, i) for i, x in enumerate(_items("sum", xs))]
    for v in values:
        if not is_number(v):
            raise TypeError(f"invalid argument for sum (type {type(v).__name__})")
    return sum(values)


def _find(xs: Any, fn: Callable[..., Any]) -> Any:
    return next((x for i, x in enumerate(_items("find", xs)) if _bool("find", fn(x, i))), None)


def _find_index(xs: Any, fn: Callable[..., Any]) -> int:
    items = _items("findIndex", xs)
    return next((i for i, x in enumerate(items) if _bool("findIndex", fn(x, i))), -1)


def _find_last(xs: Any, fn: Callable[..., Any]) -> Any:
    items = _items("findLast", xs)
    for i in range(len(items) - 1, -1, -1):
        if _bool("findLast", fn(items[i], i)):
            return items[i]
    return None


def _find_last_index(xs: Any, fn: Callable[..., Any]) -> int:
    items = _items("findLastIndex", xs)
    for i in range(len(items) - 1, -1, -1):
        if _bool("findLastIndex", fn(items[i], i)):
            return i
    return -1


def _group_by(xs: Any, fn: Callable[..., Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for i, x in enumerate(_items("groupBy", xs)):
        groups.setdefault(fn(x, i), []).append(x)
    return groups


def _sort_key(value: Any) -> Any:
    if is_number(value) or isinstance(value, str):
        return value
    raise TypeError(f"cannot sort {type(value).__name__}")


def _sort_by(xs: Any, fn: Callable[..., Any], order: str = "asc") -> list[Any]:
    keyed = [(fn(x, i), x) for i, x in enumerate(_items("sortBy", xs))]
    keyed.sort(key=lambda kv: _sort_key(kv[0]), reverse=order == "desc")
    return [x for _, x in keyed]


def _reduce(xs: Any, fn: Callable[..., Any], *initial: Any) -> Any:
    items = _items("reduce", xs)
    if initial:
        acc, start = initial[0], 0
    elif items:
        acc, start = items[0], 1
    else:
        raise TypeError("reduce of empty array with no initial value")
    for i in range(start, len(items)):
        acc = fn(items[i], i, acc)
    return acc


PREDICATES: dict[str, Callable[..., Any]] = {
    "all": _all,
    "none": _none,
    "any": _any,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "count": _count,
    "sum": _sum,
    "find": _find,
    "findIndex": _find_index,
    "findLast": _find_last,
    "findLastIndex": _find_last_index,
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}

# How each closure builtin's arguments parse: an expression or a closure; "?" marks optional.
PREDICATE_ARGS: dict[str, tuple[str, ...]] = {name: ("expr", "closure") for name in PREDICATES} | {
    "count": ("expr", "closure?"),
    "sum": ("expr", "closure?"),
    "sortBy": ("expr", "closure", "expr?"),
    "reduce": ("expr", "closure", "expr?"),
}


# --- plain builtins ---------------------------------------------------------------------------


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise TypeError(f"invalid argument for len (type {type(value).__name__})")


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    for kind, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (tuple, "array"),
        (Mapping, "map"),
        (datetime, "time.Time"),
        (timedelta, "time.Duration"),
    ):
        if isinstance(value, kind):
            return name
    return "func" if callable(value) else "unknown"


def _number(name: str, value: Any) -> float | int:
    if not is_number(value):
        raise TypeError(f"invalid argument for {name} (type {type(value).__name__})")
    return value


def _round(value: Any) -> float:
    # Go's math.Round rounds half away from zero.
    x = float(_number("round", value))
    return math.copysign(math.floor(abs(x) + 0.5), x) if math.isfinite(x) else x


def _flatten_args(name: str, args: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, list | tuple):
            out.extend(_flatten_args(name, tuple(arg)))
        else:
            out.append(_number(name, arg))
    return out


def _max(*args: Any) -> Any:
    values = _flatten_args("max", args)
    return max(values) if values else None


def _min(*args: Any) -> Any:
    values = _flatten_args("min", args)
    return min(values) if values else None


def _mean(*args: Any) -> float:
    values = _flatten_args("mean", args)
    return float(sum(values)) / len(values) if values else 0.0


def _median(*args: Any) -> float:
    values = _flatten_args("median", args)
    return float(statistics.median(values)) if values else 0.0


def _trim(s: Any, cutset: str | None = None) -> str:
    _require_str("trim", s)
    return s.strip() if cutset is None else s.strip(cutset)


def _split(s: Any, sep: Any, n: int = -1) -> list[str]:
    _require_str("split", s, sep)
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        return chars if n < 0 or n >= len(chars) else [*chars[: n - 1], "".join(chars[n - 1 :])]
    return s.split(sep, n - 1 if n > 0 else -1)


def _split_after(s: Any, sep: Any, n: int = -1) -> list[str]:
    parts = _split(s, sep, n)
    return [p + sep for p in parts[:-1]] + parts[-1:]


def _replace(s: Any, old: Any, new: Any, n: int = -1) -> str:
    _require_str("replace", s, old, new)
    return s.replace(old, new, n if n >= 0 else -1)


def _join(xs: Any, sep: str = "") -> str:
    items = _items("join", xs)
    _require_str("join", sep, *items)
    return sep.join(items)


def _first(xs: Any) -> Any:
    if xs is None:
        return None
    items = _items("first", xs)
    return items[0] if items else None


def _last(xs: Any) -> Any:
    if xs is None:
        return None
    items = _items("last", xs)
    return items[-1] if items else None


def _get(obj: Any, key: Any) -> Any:
    if isinstance(obj, Mapping):
        try:
            return obj[key]
        except (KeyError, TypeError):
            return None
    if isinstance(obj, list | tuple) and is_number(key):
        i = int(key)
        i = i + len(obj) if i < 0 else i
        return obj[i] if 0 <= i < len(obj) else None
    return None


def _keys(m: Any) -> list[Any]:
    if not isinstance(m, Mapping):
        raise TypeError(f"cannot get keys from {type(m).__name__}")
    return list(m.keys())


def _values(m: Any) -> list[Any]:
    if not isinstance(m, Mapping):
        raise TypeError(f"cannot get values from {type(m).__name__}")
    return list(m.values())


def _uniq(xs: Any) -> list[Any]:
    out: list[Any] = []
    for x in _items("uniq", xs):
        if not any(type(x) is type(y) and x == y for y in out):
            out.append(x)
    return out


def _flatten(xs: Any) -> list[Any]:
    out: list[Any] = []
    for x in _items("flatten", xs):
        out.extend(_flatten(x) if isinstance(x, list | tuple) else [x])
    return out


def _sort(xs: Any, order: str = "asc") -> list[Any]:
    return sorted(_items("sort", xs), key=_sort_key, reverse=order == "desc")


def _from_base64(s: Any) -> str:
    _require_str("fromBase64", s)
    try:
        return base64.b64decode(s, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"illegal base64 data: {exc}") from None


_LAYOUT_TO_STRPTIME = [
    ("January", "%B"),
    ("Monday", "%A"),
    ("2006", "%Y"),
    ("Z07:00", "%z"),
    ("-07:00", "%z"),
    ("-0700", "%z"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    (".000000", ".%f"),
    (".000", ".%f"),
    ("01", "%m"),
    ("02", "%d"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("PM", "%p"),
]


def _date(text: Any, layout: str | None = None, zone: str | None = None) -> datetime:
    _require_str("date", text)
    if layout is None:
        parsed = parse_time(text)
        if parsed is None:
            raise ValueError(f"cannot parse {text!r} as a date")
        return parsed
    fmt = layout
    for go, py in _LAYOUT_TO_STRPTIME:
        fmt = fmt.replace(go, py)
    parsed_dt = datetime.strptime(text.replace("Z", "+0000"), fmt)
    if parsed_dt.tzinfo is None:
        if zone:
            from zoneinfo import ZoneInfo

            return parsed_dt.replace(tzinfo=ZoneInfo(zone))
        return parsed_dt.replace(tzinfo=UTC)
    return parsed_dt


def _duration(text: Any) -> timedelta:
    _require_str("duration", text)
    return parse_go_duration(text)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "type": _type,
    "abs": lambda x: abs(_number("abs", x)),
    "ceil": lambda x: float(math.ceil(_number("ceil", x))),
    "floor": lambda x: float(math.floor(_number("floor", x))),
    "round": _round,
    "int": as_int,
    "float": as_float,
    "string": go_format,
    "trim": _trim,
    "trimPrefix": lambda s, p=" ": s.removeprefix(p),
    "trimSuffix": lambda s, p=" ": s.removesuffix(p),
    "upper": lambda s: (_require_str("upper", s), s.upper())[1],
    "lower": lambda s: (_require_str("lower", s), s.lower())[1],
    "split": _split,
    "splitAfter": _split_after,
    "replace": _replace,
    "repeat": lambda s, n: s * n if n >= 0 else _raise(ValueError("negative repeat count")),
    "join": _join,
    "indexOf": lambda s, sub: s.find(sub),
    "lastIndexOf": lambda s, sub: s.rfind(sub),
    "hasPrefix": lambda s, p: s.startswith(p),
    "hasSuffix": lambda s, p: s.endswith(p),
    "max": _max,
    "min": _min,
    "mean": _mean,
    "median": _median,
    "toJSON": lambda v: to_json(v, "  "),
    "fromJSON": from_json,
    "toBase64": lambda s: base64.b64encode(s.encode()).decode(),
    "fromBase64": _from_base64,
    "now": lambda: datetime.now(UTC),
    "duration": _duration,
    "date": _date,
    "first": _first,
    "last": _last,
    "get": _get,
    "take": lambda xs, n: _items("take", xs)[: max(n, 0)],
    "keys": _keys,
    "values": _values,
    "toPairs": lambda m: [[k, v] for k, v in m.items()],
    "fromPairs": lambda ps: {p[0]: p[1] for p in ps},
    "reverse": lambda xs: _items("reverse", xs)[::-1],
    "uniq": _uniq,
    "concat": lambda *xss: [x for xs in xss for x in _items("concat", xs)],
    "flatten": _flatten,
    "sort": _sort,
}


def _raise(exc: Exception) -> Any:
    raise exc


# --- methods on Go time values -----------------------------------------------------------------


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


_TIME_METHODS: dict[str, Callable[..., Any]] = {
    "Year": lambda t: t.year,
    "Month": lambda t: t.month,
    "Day": lambda t: t.day,
    "Hour": lambda t: t.hour,
    "Minute": lambda t: t.minute,
    "Second": lambda t: t.second,
    "Nanosecond": lambda t: t.microsecond * 1000,
    "YearDay": lambda t: t.timetuple().tm_yday,
    "Weekday": lambda t: t.isoweekday() % 7,
    "Unix": lambda t: math.floor(_utc(t).timestamp()),
    "UnixMilli": lambda t: math.floor(_utc(t).timestamp() * 1000),
    "UnixNano": lambda t: math.floor(_utc(t).timestamp() * 1e6) * 1000,
    "Format": lambda t, layout: format_go_time(layout, t),
    "Add": lambda t, d: t + d,
    "Sub": lambda t, u: _utc(t) - _utc(u),
    "After": lambda t, u: _utc(t) > _utc(u),
    "Before": lambda t, u: _utc(t) < _utc(u),
    "Equal": lambda t, u: _utc(t) == _utc(u),
    "UTC": lambda t: _utc(t).astimezone(UTC),
    "IsZero": lambda t: t == datetime(1, 1, 1, tzinfo=t.tzinfo),
    "String": lambda t: go_format(t),
}

_DURATION_METHODS: dict[str, Callable[..., Any]] = {
    "Hours": lambda d: d.total_seconds() / 3600,
    "Minutes": lambda d: d.total_seconds() / 60,
    "Seconds": lambda d: d.total_seconds(),
    "Milliseconds": lambda d: d // timedelta(milliseconds=1),
    "Microseconds": lambda d: d // timedelta(microseconds=1),
    "Nanoseconds": lambda d: (d // timedelta(microseconds=1)) * 1000,
    "Abs": lambda d: abs(d),
    "String": go_duration_string,
}


def method(obj: Any, name: str) -> Callable[..., Any] | None:
    """A Go method of a time value (``t.Unix()``, ``d.Seconds()``) bound to ``obj``, or None."""
    table = (
        _TIME_METHODS
        if isinstance(obj, datetime)
        else _DURATION_METHODS
        if isinstance(obj, timedelta)
        else None
    )
    if table is None or name not in table:
        return None
    fn = table[name]
    return lambda *args: fn(obj, *args)
