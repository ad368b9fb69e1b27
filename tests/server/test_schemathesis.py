"""Property-based requests from our own OpenAPI: whatever a client sends, never a 5xx.

The server runs without an engine, so nothing a generated request creates is executed.
Streams that only end with their workflow (the event stream) are left out; the log stream
ends at once for a workflow that is not running.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from argosy.api.server import openapi_document
from tests.server.rest_harness import API, Server, start_server, workflow


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("fuzz")) / "home", run_engine=False)
    # Something to find: generated names rarely hit it, but "default" namespaces do.
    with srv.client() as client:
        client.post(f"{API}/default", json={"workflow": workflow("fixed", "true")})
    yield srv
    output = srv.stop()
    assert "Traceback" not in output, output


# Built in-process: parametrizing needs it at collection, before any server runs (the test
# checks the live server serves the same document).
OPENAPI = openapi_document()
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance, response_headers_conformance,
               negative_data_rejection]
# Where a schema-valid request must be accepted too (a 2xx, or 404 for a missing workflow):
# not where validity goes beyond a JSON schema (a Workflow's semantics, JSON inside a string,
# an opaque continue token, a label selector's grammar).
BEYOND_SCHEMA = {"CreateWorkflow", "LintWorkflow", "SetWorkflow", "SubmitWorkflow",
                 *(f"{verb}{kind}" for verb in ("Create", "Update", "Lint")
                   for kind in ("WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"))}
BEYOND_SCHEMA_QUERY = {"listOptions.continue", "listOptions.labelSelector"}
schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path_regex="workflow-events")


def test_live_server_serves_this_openapi(fuzzed_server: Server) -> None:
    assert httpx.get(f"{fuzzed_server.url}/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_as_documented(case: schemathesis.Case,
                                                      fuzzed_server: Server) -> None:
    headers = {"Authorization": f"Bearer {fuzzed_server.token}"}
    checks = list(CONFORMANCE)
    if (case.operation.definition.raw.get("summary") not in BEYOND_SCHEMA
            and not BEYOND_SCHEMA_QUERY & set(case.query or {})):
        checks.append(positive_data_acceptance)
    case.call_and_validate(base_url=fuzzed_server.url, headers=headers, checks=checks,
                           timeout=30)
