"""``argosy engine`` that kills itself (SIGKILL) at one named point: a crash placed exactly.

    python crash_engine.py POINT [CLOCK_OFFSET]

POINT is where the engine dies:

* ``after-spawn``: for the first node process it starts, the fork server has started the
  process (and recorded its pid file), the engine has not yet taken the reply into account.
* ``after-cron-submit``: a CronWorkflow's scheduler has created the workflow of a schedule
  time and not yet recorded that time in the cron's status.
* ``never``: it does not (an engine with a shifted clock).

CLOCK_OFFSET (seconds) shifts the clock the CronWorkflow scheduler reads, so a test reaches a
schedule time without waiting for it.

A random ``kill -9`` lands in this window only rarely; this lands in it every time.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

POINTS = ("after-spawn", "after-cron-submit", "never")


def _install(point: str) -> None:
    if point == "after-cron-submit":
        from argosy.cron import CronScheduler

        run = CronScheduler._run

        def crashing_run(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = run(self, *args, **kwargs)
            if started:
                os.kill(os.getpid(), signal.SIGKILL)
            return started

        CronScheduler._run = crashing_run  # type: ignore[method-assign]
        return
    if point == "never":
        return
    from argosy.plugins import local

    spawn = local._ForkServer.spawn

    async def crashing_spawn(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await spawn(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    local._ForkServer.spawn = crashing_spawn  # type: ignore[method-assign]


def main() -> None:
    point = sys.argv[1]
    if point not in POINTS:
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
    from argosy.cli import main as cli

    _install(point)
    if len(sys.argv) > 2:
        from datetime import timedelta

        from argosy.engine import controller

        offset, now = timedelta(seconds=float(sys.argv[2])), controller.utc_now
        controller.utc_now = lambda: now() + offset  # type: ignore[assignment]
    cli(["engine", "--exit-when-idle", "600"])


if __name__ == "__main__":
    main()
