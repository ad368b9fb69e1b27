"""``argosy server`` as a user starts it: the URL it prints is already listening; a port
that cannot be listened on is a one-line error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.cli.test_damaged_store import damage_the_logs
from tests.server.rest_harness import free_port, workflow


def test_the_printed_url_is_already_listening(argosy_home: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "server", "--port", str(port), "--log-level",
         "warning"], env=dict(os.environ, ARGOSY_HOME=str(argosy_home)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("argosy server on"):
                break
        else:
            raise AssertionError(f"no banner; exit {proc.wait()}")
        assert line.split()[3] == f"http://127.0.0.1:{port}"
        # No retry: a client told the URL may connect at once.
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_a_taken_port_is_a_one_line_error(argosy_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "argosy.cli", "server", "--port", str(port)],
            env=dict(os.environ, ARGOSY_HOME=str(argosy_home)), capture_output=True, text=True,
            timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"cannot listen on 127.0.0.1:{port}: Address already in use\n"
    # Nothing was announced, not even the admin token that is shown only once.
    assert result.stdout == "" and not (argosy_home / "tokens.json").exists()


def test_the_server_stops_when_its_engine_cannot_use_the_store(argosy_home: Path) -> None:
    db = damage_the_logs(argosy_home)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "server", "--port", str(port), "--auth-mode",
         "none", "--log-level", "warning"], env=dict(os.environ, ARGOSY_HOME=str(argosy_home)),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("argosy server on")
        resp = httpx.post(f"http://127.0.0.1:{port}/api/v1/workflows/default",
                          json={"workflow": workflow("hello", "echo hello")}, timeout=30)
        assert resp.status_code == 200, resp.text
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert code == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith(f"the argosy store {db} is damaged (")


def test_a_damaged_store_is_503_saying_so(argosy_home: Path) -> None:
    db = damage_the_logs(argosy_home)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "argosy.cli", "server", "--port", str(port), "--auth-mode",
         "none", "--no-engine", "--log-level", "warning"],
        env=dict(os.environ, ARGOSY_HOME=str(argosy_home)), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("argosy server on")
        api = f"http://127.0.0.1:{port}/api/v1/workflows/default"
        assert httpx.post(api, json={"workflow": workflow("hello", "echo hello")},
                          timeout=30).status_code == 200
        resp = httpx.get(f"{api}/hello/log", params={"logOptions.container": "main"}, timeout=30)
        assert resp.status_code == 503
        assert resp.json()["message"].startswith(f"the argosy store {db} is damaged (")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert "Traceback" not in proc.stderr.read()
