"""The ``suspend`` template type: wait for a duration, or until the workflow is resumed.

The deadline counts from the node's recorded ``startedAt``, so a restarted engine waits only
for what is left rather than starting the duration again.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from argosy.engine import NodeContext, NodeError
from argosy.errors import Fault
from argosy.models import ArgoModel
from argosy.plugin import Outcome, TemplateType, hookimpl

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


class Suspend(ArgoModel):
    duration: str | int | None = None


def parse_duration(text: str | int) -> float:
    """Seconds in an Argo duration: a bare number of seconds or Go's ``1h2m3.5s`` form."""
    s = str(text).strip()
    if re.fullmatch(r"-?\d+", s):
        return float(int(s))
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise NodeError(f"invalid duration {text!r}")
    return sign * total


async def run(ctx: NodeContext) -> Outcome:
    duration = ctx.body.duration
    if duration is None or str(duration) == "":
        await ctx.run.wait_for_resume(ctx.node)
        return Outcome("Succeeded")
    started = datetime.strptime(ctx.node.started_at or "", "%Y-%m-%dT%H:%M:%SZ")
    elapsed = (datetime.now(UTC) - started.replace(tzinfo=UTC)).total_seconds()
    await ctx.wait(parse_duration(duration) - elapsed)
    return Outcome("Succeeded")


def validate(body: Suspend, path: str) -> list[Fault]:
    if body.duration is None or "{{" in str(body.duration):
        return []
    try:
        parse_duration(body.duration)
    except NodeError as exc:
        return [Fault(f"{path}.duration", str(exc))]
    return []


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("suspend", "Suspend", run, Suspend, validate)]
