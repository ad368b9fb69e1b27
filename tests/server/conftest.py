"""Fixtures: one real server process per test module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.rest_harness import Server, start_server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[
        pytest.TestReport]:
    """A failed test that used the server shows what the server printed, and whether it still
    runs: a server that died leaves only "connection refused" in the test's own output."""
    report: pytest.TestReport = yield
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(server, Server):
        code = server.proc.poll()
        state = "still running" if code is None else f"exited with {code}"
        report.sections.append((f"argosy server ({state})", "".join(server.output)))
    return report


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("server") / "home")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
