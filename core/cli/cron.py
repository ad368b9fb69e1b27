"""``argosy cron …``, as Argo's: CronWorkflows in the store; the engine's scheduler runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from argosy.cli.commands import EXIT_OK, Target, verb
from argosy.cli.templates import template_group
from argosy.cron import KIND, next_time, schedules


def _since(stamp: str | None) -> str:
    from argosy.cli.commands import _short_age
    from argosy.spec.durations import seconds_since

    return _short_age(seconds_since(stamp)) if stamp else "N/A"


def _next(body: dict[str, Any]) -> str:
    if body["spec"].get("suspend") or (body.get("status") or {}).get("phase") == "Stopped":
        return "N/A"
    when = next_time(body, datetime.now(UTC))
    return when.isoformat(timespec="seconds") if when else "N/A"


def columns(body: dict[str, Any]) -> dict[str, str]:
    """``argo cron list``'s columns after NAME and AGE."""
    spec, status = body["spec"], body.get("status") or {}
    return {"LAST RUN": _since(status.get("lastScheduledTime")), "NEXT RUN": _next(body),
            "SCHEDULES": ",".join(schedules(spec)), "TIMEZONE": spec.get("timezone", ""),
            "SUSPENDED": str(bool(spec.get("suspend"))).lower()}


def details(body: dict[str, Any]) -> dict[str, str]:
    """``argo cron get``'s lines after Created."""
    spec, status = body["spec"], body.get("status") or {}
    lines = {"Schedules": ",".join(schedules(spec)),
             "Suspended": str(bool(spec.get("suspend"))).lower()}
    for key in ("timezone", "startingDeadlineSeconds", "concurrencyPolicy", "when"):
        if spec.get(key) is not None:
            lines[key[0].upper() + key[1:]] = str(spec[key])
    if status.get("phase"):
        lines["Phase"] = status["phase"]
    if status.get("lastScheduledTime"):
        lines["LastScheduledTime"] = status["lastScheduledTime"]
    lines["NextScheduledTime"] = _next(body)
    if status.get("active"):
        lines["Active Workflows"] = ", ".join(ref["name"] for ref in status["active"])
    for condition in status.get("conditions") or []:
        lines[f"Condition {condition.get('type')}"] = condition.get("message", "")
    return lines


cron = template_group(KIND, "cron", "CronWorkflows (argo cron): workflows on a schedule.",
                      columns=columns, details=details)


def _suspend_verb(name: str, value: bool, help_text: str) -> None:
    @cron.command(name, help=help_text)
    @click.argument("names", nargs=-1, required=True)
    @verb
    def command(target: Target, names: tuple[str, ...]) -> int:
        for each in names:
            target.service.suspend_cron(target.namespace, each, value)
            click.echo(f"CronWorkflow '{each}' {'suspended' if value else 'resumed'}")
        return EXIT_OK


_suspend_verb("suspend", True, "Stop scheduling CronWorkflows.")
_suspend_verb("resume", False, "Schedule CronWorkflows again.")
