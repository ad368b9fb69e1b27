"""The official ``argo-workflows`` Python client against argosy server: its generated models
check every field of every response against argo-server's OpenAPI types (unknown keys are not
discarded), so each call below parsing at all is the test; the values are checked besides."""

from __future__ import annotations

import time
from typing import Any

import argo_workflows
import pytest
from argo_workflows.apis import (
    ClusterWorkflowTemplateServiceApi,
    CronWorkflowServiceApi,
    WorkflowServiceApi,
    WorkflowTemplateServiceApi,
)
from argo_workflows.model_utils import validate_and_convert_types

from tests.server.rest_harness import Server

NS = "official"
GREET = {"entrypoint": "say", "arguments": {"parameters": [{"name": "message", "value": "hi"}]},
         "templates": [{"name": "say", "inputs": {"parameters": [{"name": "message"}]},
                        "container": {"image": "busybox", "command": ["echo"],
                                      "args": ["{{inputs.parameters.message}}"]}}]}


@pytest.fixture(scope="module")
def client(server: Server) -> Any:
    config = argo_workflows.Configuration(host=server.url, api_key={"BearerToken": server.token},
                                          api_key_prefix={"BearerToken": "Bearer"})
    with argo_workflows.ApiClient(config) as api_client:
        yield api_client


def model(client: Any, api: Any, method: str, body: dict[str, Any]) -> Any:
    """``body`` (argo-server's JSON) as the model ``api.method`` takes, checked as it is built."""
    types = getattr(api(client), f"{method}_endpoint").openapi_types["body"]
    return validate_and_convert_types(body, types, ["body"], True, True, client.configuration)


def wait_done(workflows: Any, name: str) -> Any:
    deadline = time.monotonic() + 60
    while True:
        wf = workflows.get_workflow(NS, name)
        if wf.status.get("phase") in ("Succeeded", "Failed", "Error"):
            return wf
        assert time.monotonic() < deadline, wf.status
        time.sleep(0.2)


def test_templates_parse_in_the_official_models(client: Any) -> None:
    api = WorkflowTemplateServiceApi(client)
    body = {"namespace": NS, "template": {"metadata": {"name": "greet"}, "spec": GREET}}
    linted = api.lint_workflow_template(NS, model(client, WorkflowTemplateServiceApi,
                                                  "lint_workflow_template", body))
    assert linted.metadata.name == "greet"
    created = api.create_workflow_template(NS, model(client, WorkflowTemplateServiceApi,
                                                     "create_workflow_template", body))
    assert created.metadata.namespace == NS and created.metadata.creation_timestamp
    assert [t.metadata.name for t in api.list_workflow_templates(NS).items] == ["greet"]
    got = api.get_workflow_template(NS, "greet")
    assert got.spec.templates[0].container.args == ["{{inputs.parameters.message}}"]

    cluster = ClusterWorkflowTemplateServiceApi(client)
    body = {"template": {"metadata": {"name": "cluster-greet"}, "spec": GREET}}
    cluster.create_cluster_workflow_template(model(
        client, ClusterWorkflowTemplateServiceApi, "create_cluster_workflow_template", body))
    listed = cluster.list_cluster_workflow_templates().items
    assert [t.metadata.name for t in listed] == ["cluster-greet"]
    assert cluster.get_cluster_workflow_template("cluster-greet").spec.entrypoint == "say"

    workflows = WorkflowServiceApi(client)
    submitted = workflows.submit_workflow(NS, model(client, WorkflowServiceApi, "submit_workflow", {
        "resourceKind": "WorkflowTemplate", "resourceName": "greet",
        "submitOptions": {"parameters": ["message=submitted"]}}))
    done = wait_done(workflows, submitted.metadata.name)
    assert done.status.phase == "Succeeded"
    assert done.metadata.labels["workflows.argoproj.io/workflow-template"] == "greet"

    api.delete_workflow_template(NS, "greet")
    cluster.delete_cluster_workflow_template("cluster-greet")
    assert api.list_workflow_templates(NS).items in (None, [])


def test_crons_parse_in_the_official_models(client: Any) -> None:
    api = CronWorkflowServiceApi(client)
    body = {"namespace": NS, "cronWorkflow": {"metadata": {"name": "nightly"}, "spec": {
        "schedules": ["0 3 * * *"], "timezone": "UTC", "concurrencyPolicy": "Forbid",
        "workflowSpec": GREET}}}
    linted = api.lint_cron_workflow(NS, model(client, CronWorkflowServiceApi,
                                              "lint_cron_workflow", body))
    assert linted.spec.schedules == ["0 3 * * *"]
    created = api.create_cron_workflow(NS, model(client, CronWorkflowServiceApi,
                                                 "create_cron_workflow", body))
    assert created.metadata.name == "nightly"
    assert [c.metadata.name for c in api.list_cron_workflows(NS).items] == ["nightly"]
    suspended = api.suspend_cron_workflow(NS, "nightly", model(
        client, CronWorkflowServiceApi, "suspend_cron_workflow", {}))
    assert suspended.spec.suspend is True
    resumed = api.resume_cron_workflow(NS, "nightly", model(
        client, CronWorkflowServiceApi, "resume_cron_workflow", {}))
    assert not resumed.spec.get("suspend")
    assert api.get_cron_workflow(NS, "nightly").spec.concurrency_policy == "Forbid"
    api.delete_cron_workflow(NS, "nightly")


def test_workflows_parse_in_the_official_models(client: Any) -> None:
    api = WorkflowServiceApi(client)
    body = {"namespace": NS, "workflow": {"metadata": {"name": "direct"}, "spec": GREET}}
    assert api.lint_workflow(NS, model(client, WorkflowServiceApi, "lint_workflow", body))
    created = api.create_workflow(NS, model(client, WorkflowServiceApi, "create_workflow", body))
    assert created.metadata.name == "direct"
    done = wait_done(api, "direct")
    assert done.status.phase == "Succeeded"
    [pod] = [n for n in done.status.nodes.values() if n.type == "Pod"]
    assert (pod.display_name, pod.template_name) == ("direct", "say")
    assert "direct" in [w.metadata.name for w in api.list_workflows(NS).items]
    retried = api.retry_workflow(NS, "direct", model(client, WorkflowServiceApi, "retry_workflow", {
        "restartSuccessful": True, "nodeFieldSelector": "displayName=direct"}))
    assert retried.status.phase == "Running"
    assert wait_done(api, "direct").status.phase == "Succeeded"
    api.delete_workflow(NS, "direct")
