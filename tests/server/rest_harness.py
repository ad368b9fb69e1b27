"""Helpers for the REST server tests: a real ``argosy server`` process on a free loopback
port with its own ARGOSY_HOME, and waiting on workflows through the API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API = "/api/v1/workflows"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    home: Path
    token: str | None
    proc: subprocess.Popen[str]
    output: list[str]

    def client(self, token: str | None = "admin", **kwargs: Any) -> httpx.Client:
        token = self.token if token == "admin" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return "".join(self.output)


def launch(home: Path, **options: Any) -> subprocess.Popen[str]:
    """``argosy.api.server.main(**options)`` in a child process; output merged into stdout."""
    code = "import json, sys; from argosy.api.server import main; main(**json.loads(sys.argv[1]))"
    env = dict(os.environ, ARGOSY_HOME=str(home), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", code, json.dumps(options)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)


def start_server(home: Path, **options: Any) -> Server:
    port = free_port()
    options = {"port": port, "log_level": "warning", **options}
    proc = launch(home, **options)
    assert proc.stdout is not None
    token = None
    for line in proc.stdout:  # the banner ends the start-up output
        if line.startswith("argosy_"):
            token = line.strip()
        if line.startswith("argosy server on"):
            break
    else:
        raise AssertionError(f"server exited: {proc.wait()}")
    server = Server(f"http://127.0.0.1:{port}", home, token, proc, [])
    # Drain the server's output so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: server.output.extend(proc.stdout or []),
                     daemon=True).start()
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{server.url}/api/v1/version", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"server did not start: {server.stop()}")
        time.sleep(0.1)


def workflow(name: str, script: str, **extra: Any) -> dict[str, Any]:
    """A one-container workflow running ``sh -c script``."""
    meta: dict[str, Any] = {"name": name, **extra.pop("metadata", {})}
    return {"metadata": meta, "spec": {"entrypoint": "main", **extra, "templates": [
        {"name": "main", "container": {"image": "busybox", "command": ["sh", "-c", script]}}]}}


def wait_phase(client: httpx.Client, namespace: str, name: str,
               phases: tuple[str, ...] = ("Succeeded", "Failed", "Error"),
               timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"{API}/{namespace}/{name}")
        assert resp.status_code == 200, resp.text
        wf = resp.json()
        if wf.get("status", {}).get("phase") in phases:
            return wf
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {wf.get('status')}")
        time.sleep(0.1)


def wait_node(client: httpx.Client, namespace: str, name: str, display_name: str,
              phase: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        wf = client.get(f"{API}/{namespace}/{name}").json()
        for node in (wf.get("status", {}).get("nodes") or {}).values():
            if node.get("displayName") == display_name and node.get("phase") == phase:
                return wf
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: no {display_name} node {phase}: {wf.get('status')}")
        time.sleep(0.1)
