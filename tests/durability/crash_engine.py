"""``argosy engine`` that kills itself (SIGKILL) at one named point: a crash placed exactly.

    python crash_engine.py POINT

POINT is where the engine dies, for the first node process it starts:

* ``after-spawn``: the fork server has started the process (and recorded its pid file), the
  engine has not yet taken the reply into account.

A random ``kill -9`` lands in this window only rarely; this lands in it every time.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

POINTS = ("after-spawn",)


def _install(point: str) -> None:
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
    cli(["engine", "--exit-when-idle", "600"])


if __name__ == "__main__":
    main()
