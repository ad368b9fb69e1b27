"""Helpers for the Jupyter suite: workflows to submit, JSON calls through ``jp_fetch``."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

API = ("argosy", "api", "v1")


def manifest(name: str, templates: list[dict[str, Any]], entrypoint: str = "main",
             parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"entrypoint": entrypoint, "templates": templates}
    if parameters:
        spec["arguments"] = {"parameters": parameters}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name}, "spec": spec}


def echo(name: str, text: str = "hello from argosy") -> dict[str, Any]:
    """A one-step workflow printing ``text`` and writing it to an output parameter."""
    return manifest(name, [{
        "name": "main",
        "outputs": {"parameters": [{"name": "said", "valueFrom": {"path": "/tmp/said"}}]},
        "container": {"image": "busybox", "command": ["sh", "-c"],
                      "args": [f"echo '{text}' | tee /tmp/said"]}}])


def sleeper(name: str, seconds: int = 60) -> dict[str, Any]:
    return manifest(name, [{"name": "main", "container": {
        "image": "busybox", "command": ["sleep"], "args": [str(seconds)]}}])


def gate(name: str) -> dict[str, Any]:
    """Waits at a suspend step named ``approve``, then echoes."""
    return manifest(name, [
        {"name": "main", "steps": [[{"name": "approve", "template": "wait"}],
                                   [{"name": "after", "template": "say"}]]},
        {"name": "wait", "suspend": {}},
        {"name": "say", "container": {"image": "busybox", "command": ["echo"],
                                      "args": ["approved"]}}])


def failing(name: str) -> dict[str, Any]:
    return manifest(name, [{"name": "main", "container": {
        "image": "busybox", "command": ["sh", "-c"], "args": ["echo failing; exit 3"]}}])


Fetch = Callable[..., Awaitable[Any]]


async def call(fetch: Fetch, method: str, *path: str, body: Any = None,
               **kwargs: Any) -> Any:
    """A JSON request to /argosy/api/v1/…; the decoded body."""
    if body is not None:
        kwargs["body"] = json.dumps(body)
    elif method in ("POST", "PUT"):
        kwargs["body"] = ""
    resp = await fetch(*API, *path, method=method, **kwargs)
    return json.loads(resp.body)


async def wait_for(fetch: Fetch, name: str, test: Callable[[dict[str, Any]], bool],
                   timeout: float = 60) -> dict[str, Any]:
    """Poll GET until ``test(workflow)``; the workflow."""
    deadline = time.monotonic() + timeout
    while True:
        wf = await call(fetch, "GET", "workflows", "default", name)
        if test(wf):
            return wf
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last status: {json.dumps(wf.get('status'))}")
        await asyncio.sleep(0.2)


def phase_is(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda wf: (wf.get("status") or {}).get("phase") in phases


def node_phase(display: str, phase: str) -> Callable[[dict[str, Any]], bool]:
    def test(wf: dict[str, Any]) -> bool:
        nodes = (wf.get("status") or {}).get("nodes") or {}
        return any(n.get("displayName") == display and n.get("phase") == phase
                   for n in nodes.values())
    return test
