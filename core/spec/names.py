"""Kubernetes names: a namespace is an RFC 1123 label, wherever it enters argosy."""

from __future__ import annotations

import re

from argosy.errors import InvalidName

RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_MAX = 63


def namespace_fault(value: object) -> str | None:
    """Why ``value`` is not a valid namespace, or None when it is."""
    if not isinstance(value, str) or not value:
        return f"invalid namespace {value!r}: expected a non-empty string"
    if len(value) > LABEL_MAX:
        return f'invalid namespace "{value[:LABEL_MAX]}…": longer than {LABEL_MAX} characters'
    if not RFC1123_LABEL.match(value):
        return (f"invalid namespace {value!r}: use lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (an RFC 1123 label)")
    return None


def check_namespace(value: str) -> str:
    """``value`` if it is a valid namespace; else :class:`InvalidName`."""
    fault = namespace_fault(value)
    if fault:
        raise InvalidName(fault)
    return value
