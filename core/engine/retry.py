"""``retryStrategy``: whether a failed attempt is retried, and after how long (Argo's rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argosy.errors import ArgosyError
from argosy.spec.durations import parse_duration, parse_time, seconds_since
from argosy.spec.models import NodeStatus, RetryStrategy


@dataclass(frozen=True)
class Decision:
    """Retry after ``wait`` seconds, or stop with ``phase``/``message``."""

    retry: bool
    wait: float = 0.0
    phase: str = ""
    message: str = ""


def policy(strategy: RetryStrategy) -> str:
    if strategy.retry_policy:
        return strategy.retry_policy
    return "OnFailure" if not strategy.expression else "Always"


def limit_of(strategy: RetryStrategy) -> int | None:
    if strategy.limit is None or strategy.limit == "":
        return None
    try:
        return int(strategy.limit)
    except (TypeError, ValueError):
        raise ArgosyError(f"retryStrategy.limit is not an integer: {strategy.limit!r}") from None


def last_retry(attempts: list[NodeStatus]) -> dict[str, Any]:
    last = attempts[-1]
    duration = 0.0
    if last.started_at and last.finished_at:
        duration = (parse_time(last.finished_at) - parse_time(last.started_at)).total_seconds()
    return {"exitCode": (last.outputs or {}).get("exitCode", "-1"), "status": last.phase,
            "duration": str(int(duration)) if duration.is_integer() else str(duration),
            "message": last.message or ""}


def _retries_on(strategy: RetryStrategy, last: NodeStatus) -> bool:
    kind = policy(strategy)
    if kind == "Always":
        return True
    if kind == "OnError":
        return last.phase == "Error"
    if kind == "OnTransientError":
        text = (last.message or "").lower()
        return any(w in text for w in ("transient", "timeout", "connection reset", "eof"))
    if kind == "OnFailure":
        return last.phase == "Failed"
    raise ArgosyError(f"{kind} is not a valid RetryPolicy")


def decide(strategy: RetryStrategy, attempts: list[NodeStatus],
           expression_ok: bool | None) -> Decision:
    """Argo's processNodeRetries for a fulfilled, failed last attempt.

    ``expression_ok`` is the value of ``retryStrategy.expression`` (None when there is none).
    """
    last = attempts[-1]
    backoff = strategy.backoff or {}
    max_deadline = None
    if backoff.get("maxDuration"):
        max_deadline = parse_duration(backoff["maxDuration"])
        if seconds_since(attempts[0].started_at) > max_deadline:
            return Decision(False, phase=last.phase, message="Max duration limit exceeded")
    wait = 0.0
    if backoff:
        if not backoff.get("duration"):
            raise ArgosyError("no base duration specified for retryStrategy")
        wait = parse_duration(backoff["duration"])
        factor = backoff.get("factor")
        if factor not in (None, "") and int(factor) > 0:
            wait *= int(factor) ** (len(attempts) - 1)
        if backoff.get("cap"):
            wait = min(wait, parse_duration(backoff["cap"]))
        if max_deadline is not None:
            remaining = max_deadline - seconds_since(attempts[0].started_at)
            if wait - seconds_since(last.finished_at) > remaining:
                return Decision(False, phase=last.phase,
                                message="Backoff would exceed max duration limit")
    if not _retries_on(strategy, last):
        return Decision(False, phase=last.phase, message=last.message or "")
    limit = limit_of(strategy)
    if limit is not None and len(attempts) > limit:
        return Decision(False, phase=last.phase, message="No more retries left")
    if expression_ok is False:
        return Decision(False, phase=last.phase,
                        message="retryStrategy.expression evaluated to false")
    return Decision(True, wait=max(0.0, wait - seconds_since(last.finished_at)))
