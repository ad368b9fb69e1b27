"""``argosy engine`` that kills itself (SIGKILL) at one named point: a crash placed exactly.

    python crash_engine.py POINT

POINT is where the engine dies, for the first node process it starts:

* ``before-pid``: the process has been spawned, its ``node_dir/pid`` is not yet written;
* ``torn-pid``: ``node_dir/pid`` has been opened (truncated) but not yet written.

A random ``kill -9`` lands in these windows only rarely; this lands in them every time.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys
from typing import Any

POINTS = ("before-pid", "torn-pid")


def _install(point: str, runs: pathlib.Path) -> None:
    write_text = pathlib.Path.write_text

    def crashing_write_text(self: pathlib.Path, data: str, *args: Any, **kwargs: Any) -> int:
        if self.name == "pid" and self.parent.parent.parent == runs:
            if point == "torn-pid":
                self.open("w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return write_text(self, data, *args, **kwargs)

    pathlib.Path.write_text = crashing_write_text  # type: ignore[method-assign]


def main() -> None:
    point = sys.argv[1]
    if point not in POINTS:
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
    from argosy.cli import main as cli
    from argosy.store import argosy_home

    _install(point, argosy_home() / "runs")
    cli(["engine", "--exit-when-idle", "600"])


if __name__ == "__main__":
    main()
