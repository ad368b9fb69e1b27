"""Argo's duration and timestamp forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from argosy.errors import ArgosyError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


class DurationError(ArgosyError):
    pass


def parse_duration(text: str | int | float) -> float:
    """Seconds in an Argo duration: a bare number of seconds, or Go's ``1h2m3.5s`` (plus ``d``)."""
    s = str(text).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise DurationError(f"invalid duration {text!r}")
    return sign * total


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # RFC 3339 with 'Z' (Python 3.11+)


def seconds_since(text: str | None) -> float:
    if not text:
        return 0.0
    return (datetime.now(UTC) - parse_time(text)).total_seconds()
