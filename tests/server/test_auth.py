"""Bearer tokens: on by default, namespaces and read-only enforced, no auth only on loopback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from argosy.api.auth import Auth
from argosy.api.server import AuthModeRefused, check_auth_mode
from argosy.errors import ArgosyError
from tests.server.rest_harness import API, Server, launch, start_server, wait_phase, workflow


def test_first_start_creates_one_admin_token_kept_private(server: Server) -> None:
    assert server.token is not None and server.token.startswith("argosy_")
    path = server.home / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert server.token not in text  # only its hash is stored
    [entry] = Auth(server.home).tokens()
    assert (entry["namespaces"], entry["read_only"]) == (["*"], False)
    # a second start prints no new token
    again = start_server(server.home)
    try:
        assert again.token is None
        assert len(Auth(server.home).tokens()) == 1
    finally:
        again.stop()


def test_missing_and_bad_tokens_are_401(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer argosy_nope_nope"},
                    {"Authorization": f"Basic {server.token}"}):
        resp = httpx.get(f"{server.url}{API}/default", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json()["code"] == 16
        assert "token not valid" in resp.json()["message"]
    # even a malformed body gets 401 first: nothing is parsed for a stranger
    resp = httpx.post(f"{server.url}{API}/default", content=b"{not json",
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 401


def test_cookie_token_for_event_source_clients(server: Server) -> None:
    resp = httpx.get(f"{server.url}{API}/default",
                     headers={"Cookie": f"authorization=Bearer {server.token}"})
    assert resp.status_code == 200


def test_namespaced_token_is_403_elsewhere(server: Server) -> None:
    token = Auth(server.home).create_token(["team-a"])
    with server.client(token) as client:
        assert client.post(f"{API}/team-a", json={"workflow": workflow("mine", "true")}
                           ).status_code == 200
        assert wait_phase(client, "team-a", "mine")["status"]["phase"] == "Succeeded"
        for method, path in (("GET", f"{API}/team-b"), ("GET", f"{API}/team-b/x"),
                             ("POST", f"{API}/team-b"), ("GET", API),
                             ("GET", "/api/v1/workflow-events/team-b"), ("GET", "/metrics"),
                             ("GET", "/artifacts/team-b/x/node/notebook"),
                             ("GET", "/artifact-files/team-b/workflow/x/node/outputs/notebook")):
            resp = client.request(method, path, json={"workflow": {}})
            assert resp.status_code == 403, (method, path)
            assert resp.json()["code"] == 7
        resp = client.get(f"{API}/team-b")
        assert resp.json()["message"] == (
            f'token {token.split("_")[1]} is not allowed in namespace "team-b"')


def test_read_only_token_reads_and_lints_but_never_writes(server: Server) -> None:
    with server.client() as admin:
        admin.post(f"{API}/ro", json={"workflow": workflow("seen", "true")})
        wait_phase(admin, "ro", "seen")
    token = Auth(server.home).create_token(["ro"], read_only=True)
    with server.client(token) as client:
        assert client.get(f"{API}/ro").status_code == 200
        assert client.get(f"{API}/ro/seen").status_code == 200
        assert client.get(f"{API}/ro/seen/log").status_code == 200
        assert client.post(f"{API}/ro/lint", json={"workflow": workflow("x", "true")}
                           ).status_code == 200
        for method, path in (("POST", f"{API}/ro"), ("DELETE", f"{API}/ro/seen"),
                             ("PUT", f"{API}/ro/seen/retry"), ("PUT", f"{API}/ro/seen/stop")):
            resp = client.request(method, path, json={"workflow": workflow("y", "true")})
            assert resp.status_code == 403, (method, path)
            assert resp.json()["code"] == 7
            assert "read-only" in resp.json()["message"]
        assert client.get(f"{API}/ro/seen").status_code == 200  # still there


def test_revoked_token_is_refused_at_once(server: Server) -> None:
    auth = Auth(server.home)
    token = auth.create_token()
    with server.client(token) as client:
        assert client.get(f"{API}/default").status_code == 200
        assert auth.revoke(token.split("_")[1])
        assert client.get(f"{API}/default").status_code == 401


def test_auth_mode_none_refused_beyond_loopback(tmp_path: Path) -> None:
    with pytest.raises(AuthModeRefused, match="only listen on loopback"):
        check_auth_mode("0.0.0.0", "none")
    with pytest.raises(AuthModeRefused):
        check_auth_mode("192.168.1.10", "none")
    with pytest.raises(ArgosyError, match="unknown auth mode"):
        check_auth_mode("127.0.0.1", "sso")
    assert check_auth_mode("127.0.0.1", "none") is False
    assert check_auth_mode("::1", "none") is False
    assert check_auth_mode("0.0.0.0", "client") is True
    # the real process refuses before binding, and says why
    proc = launch(tmp_path / "home", host="0.0.0.0", port=1, auth_mode="none")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "AuthModeRefused" in out and "only listen on loopback" in out
    assert not (tmp_path / "home" / "tokens.json").exists()


def test_auth_mode_none_on_loopback_serves_without_tokens(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home", auth_mode="none")
    try:
        assert srv.token is None
        with srv.client(None) as client:
            assert client.get(f"{API}/default").json() == {"metadata": {}, "items": []}
            assert client.post(f"{API}/default", json={"workflow": workflow("open", "true")}
                               ).status_code == 200
            assert wait_phase(client, "default", "open")["status"]["phase"] == "Succeeded"
        assert not (tmp_path / "home" / "tokens.json").exists()
    finally:
        srv.stop()


def test_token_file_created_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    code = ("import os; os.umask(0); from argosy.api.auth import create_token; "
            "print(create_token(['a'], True))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, ARGOSY_HOME=str(tmp_path)), check=True).stdout
    grant = Auth(tmp_path).verify(out.strip())
    assert grant is not None
    assert (grant.namespaces, grant.read_only) == (("a",), True)
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600
