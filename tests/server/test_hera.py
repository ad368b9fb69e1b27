"""Hera, Argo's Python SDK, against argosy server: a WorkflowTemplate created with
``WorkflowTemplate.create()``, then workflows submitted from it (workflowTemplateRef, and
SubmitWorkflow through Hera's service)."""

from __future__ import annotations

from hera.workflows import (
    Container,
    CronWorkflow,
    Parameter,
    Workflow,
    WorkflowsService,
    WorkflowTemplate,
)
from hera.workflows.models import (
    CronWorkflowSuspendRequest,
    WorkflowSubmitRequest,
    WorkflowTemplateRef,
)

from tests.server.rest_harness import Server, wait_phase


def test_hera_creates_a_template_and_submits_from_it(server: Server) -> None:
    service = WorkflowsService(host=server.url, token=server.token, namespace="hera")
    with WorkflowTemplate(name="hera-greet", entrypoint="say", namespace="hera",
                          workflows_service=service,
                          arguments=Parameter(name="message", value="hello")) as template:
        Container(name="say", image="busybox", command=["echo"],
                  args=["{{workflow.parameters.message}}"])
    created = template.create()
    assert created.metadata.name == "hera-greet"
    assert [t.metadata.name for t in service.list_workflow_templates("hera").items] == [
        "hera-greet"]

    referring = Workflow(generate_name="from-hera-", namespace="hera",
                         workflows_service=service,
                         workflow_template_ref=WorkflowTemplateRef(name="hera-greet"),
                         arguments=Parameter(name="message", value="from hera"))
    submitted = referring.create()
    submitted_from = service.submit_workflow(WorkflowSubmitRequest(
        namespace="hera", resource_kind="WorkflowTemplate", resource_name="hera-greet",
        submit_options={"parameters": ["message=submitted"]}), namespace="hera")
    with server.client() as http:
        for wf, message in ((submitted, "from hera"), (submitted_from, "submitted")):
            done = wait_phase(http, "hera", wf.metadata.name)
            assert done["status"]["phase"] == "Succeeded"
            [pod] = [n for n in done["status"]["nodes"].values() if n["type"] == "Pod"]
            log = http.get(f"/api/v1/workflows/hera/{wf.metadata.name}/log",
                           params={"logOptions.container": "main"}).text
            assert message in log, (pod, log)


def test_hera_creates_a_cron_workflow(server: Server) -> None:
    service = WorkflowsService(host=server.url, token=server.token, namespace="hera")
    with CronWorkflow(name="hera-nightly", schedules=["0 3 * * *"], timezone="UTC",
                      concurrency_policy="Forbid", entrypoint="say", namespace="hera",
                      workflows_service=service) as cron:
        Container(name="say", image="busybox", command=["echo", "night"])
    created = cron.create()
    assert (created.metadata.name, created.spec.schedules) == ("hera-nightly", ["0 3 * * *"])
    assert [c.metadata.name for c in service.list_cron_workflows("hera").items] == [
        "hera-nightly"]
    suspended = service.suspend_cron_workflow("hera-nightly", CronWorkflowSuspendRequest(),
                                              namespace="hera")
    assert suspended.spec.suspend is True
    fetched = service.get_cron_workflow("hera-nightly", namespace="hera")
    assert fetched.spec.concurrency_policy == "Forbid"
    assert fetched.spec.workflow_spec.templates[0].container.command == ["echo", "night"]
