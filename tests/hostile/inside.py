"""Runs in the throwaway PID namespace of a hostile-workflow test (as its init's child):
``argosy run`` of a workflow, then a report, as JSON, of what it printed and what it left.

    python inside.py WORKFLOW [ARGOSY RUN ARGS...]

Leftovers are looked for here, inside the namespace, because its end would kill them anyway.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

LEFTOVER = b"sleep\x00600\x00"  # the cmdline hostile steps leave behind


def running(cmdline: bytes) -> list[int]:
    """The live processes (zombies are not) whose command line is ``cmdline``."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if Path(f"/proc/{entry}/cmdline").read_bytes() != cmdline:
                continue
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z":
            found.append(int(entry))
    return found


def leftovers(within: float = 5.0) -> list[int]:
    """Live ``sleep 600`` processes once none are left, or after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = running(LEFTOVER)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def bound_processes(limit: str | None) -> None:
    """A safety net under argosy's own bound on a node's processes: this namespace's pid_max
    when we are its PID 1 (root; the test runs only where it is the namespace's own), else the
    user's process count (nobody)."""
    if not limit:
        return
    if os.getpid() == 1:
        Path("/proc/sys/kernel/pid_max").write_text(limit)
    elif os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(limit), int(limit)))


def main() -> None:
    workflow, *args = sys.argv[1:]
    bound_processes(os.environ.pop("ARGOSY_TEST_PID_MAX", None))
    proc = subprocess.run([sys.executable, "-m", "argosy.cli", "run", workflow, "-o", "json",
                           *args], capture_output=True, text=True, timeout=240)
    store = Path(os.environ["ARGOSY_HOME"], "argosy.db")
    print(json.dumps({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-4000:],
                      "leftovers": leftovers(), "store_bytes": store.stat().st_size}))


if __name__ == "__main__":
    main()
