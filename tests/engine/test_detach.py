"""An engine that detached (shut down, leaving its workflows to a successor) does not leave the
process's executors detached for the engines after it in the same process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from argosy.api.service import WorkflowService, submit
from argosy.engine.run import Engine
from argosy.store import Store

STEP = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sleep, "600"]}
"""


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended: its parent reaps it)."""
    with contextlib.suppress(FileNotFoundError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    return False


def test_a_later_engine_kills_what_it_stops_after_an_earlier_one_detached(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "home")
    Engine(store).detach()  # e.g. a server's engine that shut down earlier in this process
    record = submit(store, STEP)

    async def scenario() -> int:
        run = asyncio.ensure_future(Engine(store).run(record.uid))
        while not (pids := list(store.run_dir(record.uid).glob("*/pid"))):
            await asyncio.sleep(0.05)
        while not (text := pids[0].read_text()):
            await asyncio.sleep(0.01)
        WorkflowService(store).stop("default", "wf")
        await run
        return int(text.split()[0])

    pid = asyncio.run(scenario())
    node = next(iter(store.nodes(record.uid).values()))
    assert node["phase"] == "Failed"
    # Killed: the node's init records how it ended and lets the engine go on before its
    # namespaces are torn down, so it may still be exiting for a moment on a busy machine.
    deadline = time.monotonic() + 10
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running(pid)
    store.close()
