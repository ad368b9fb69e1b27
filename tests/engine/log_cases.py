"""Workflows whose logs the log tests read back through every surface (CLI, REST, Client,
Jupyter): each is run here, in-process, into a store of the caller's home.

* ``stopped``: its step printed to stdout and stderr, then was killed by ``stop``;
* ``plugged``: its one node is of a template type registered by the test, whose ``Outcome.log``
  is the node's log (a Plugin node, not a Pod);
* ``long``: its step printed ``LONG_LINES`` lines, far more than the store keeps of a log.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from argosy.api.service import WorkflowService, submit
from argosy.engine.run import Engine, NodeContext
from argosy.plugin import Outcome, TemplateType, hookimpl
from argosy.registry import Registry
from argosy.store import Store

STOPPED_SAID = "said before the stop"
PLUGIN_SAID = "the plugin said hello"

# Prints on both streams, then waits to be killed.
SLEEPY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: %(name)s}
spec:
  entrypoint: main
  %(spec)s
  templates:
  - name: main
    %(template)s
    container:
      image: alpine
      command: [sh, -c, "echo %(said)s; echo on stderr >&2; exec sleep 60"]
"""

PLUGGED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: plugged}
spec:
  entrypoint: main
  templates:
  - name: main
    say: {words: hello}
"""


class SayPlugin:
    """A third-party-style template type: no process, its log is its Outcome's."""

    @staticmethod
    async def run(ctx: NodeContext) -> Outcome:
        return Outcome("Succeeded", log=f"{PLUGIN_SAID}\nin two lines\n")

    @hookimpl
    def argosy_template_types(self) -> list[TemplateType]:
        return [TemplateType("say", "Plugin", self.run)]


def registry() -> Registry:
    reg = Registry()
    reg.register(SayPlugin(), "say-plugin")
    return reg


def sleepy(name: str, spec: str = "", template: str = "") -> str:
    return SLEEPY % {"name": name, "spec": spec, "template": template, "said": STOPPED_SAID}


async def run_until(store: Store, uid: str, then: str | None, reg: Registry | None = None) -> None:
    """Run the workflow; once its step printed, ``then``: ``stop``, ``terminate`` or
    ``interrupt`` (cancel the run, as Ctrl-C does); None: let it end by itself."""
    task = asyncio.ensure_future(Engine(store, reg).run(uid))
    if then is not None:
        await printed(store, uid)
        if then == "interrupt":
            task.cancel()
        else:
            rec = store.get(uid)
            getattr(WorkflowService(store), then)(rec.namespace, rec.name)
    try:
        await task
    except asyncio.CancelledError:
        if then != "interrupt":
            raise


async def printed(store: Store, uid: str) -> None:
    """Until a step of the workflow said STOPPED_SAID (a container set's first container
    prints earlier: a stop then could come before its second one said anything)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(STOPPED_SAID in f.read_text() for f in store.run_dir(uid).glob("*/stdout")):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the step printed nothing in 30 s")


def run_case(home: Path, manifest: str, then: str | None = None,
             reg: Registry | None = None) -> dict[str, Any]:
    """Submit and run one workflow; the Workflow as stored afterwards."""
    store = Store(home)
    try:
        rec = submit(store, manifest, registry=reg)
        asyncio.run(run_until(store, rec.uid, then, reg))
        return store.workflow(store.get(rec.uid))
    finally:
        store.close()


LONG_LINES = 5000
LONG = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: long}}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {{image: alpine, command: [seq, "{LONG_LINES}"]}}
"""


def make_logged_workflows(home: Path) -> None:
    """``stopped``, ``plugged`` and ``long``, finished, in ``home``'s store."""
    run_case(home, sleepy("stopped"), "stop")
    reg = registry()
    run_case(home, PLUGGED, reg=reg)
    os.environ["ARGOSY_LOG_LIMIT"] = "1Ki"
    try:
        run_case(home, LONG)
    finally:
        del os.environ["ARGOSY_LOG_LIMIT"]
