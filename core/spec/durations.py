"""Argo's duration and timestamp forms."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from argosy.errors import ArgosyError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


class DurationError(ArgosyError):
    pass


def parse_duration(text: str | int | float) -> float:
    """Seconds in an Argo duration: a bare number of seconds, or Go's ``1h2m3.5s`` (plus ``d``)."""
    s = str(text).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return float(s)
    sign = -1 if s.startswith("-") else 1
    total = sum_of_units(s.lstrip("+-"), _UNITS)
    if total is None:
        raise DurationError(f"invalid duration {text!r}")
    return sign * total


def sum_of_units(text: str, units: Mapping[str, float]) -> float | None:
    """Seconds in ``text`` made only of number-and-unit parts (``1h2m3.5s``), else None.

    Argo's durations and Go's ``time.ParseDuration`` (for expressions) differ only in their
    units and in what they accept around the parts.
    """
    pos, total = 0, 0.0
    for m in _parts(tuple(units)).finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    return total if text and pos == len(text) else None


@functools.lru_cache(maxsize=4)
def _parts(units: tuple[str, ...]) -> re.Pattern[str]:
    # Longest unit first, so that "ms" is not read as "m" followed by junk.
    names = "|".join(sorted(units, key=len, reverse=True))
    return re.compile(rf"(\d+(?:\.\d*)?|\.\d+)({names})")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # RFC 3339 with 'Z' (Python 3.11+)


def seconds_since(text: str | None) -> float:
    if not text:
        return 0.0
    return (datetime.now(UTC) - parse_time(text)).total_seconds()
