"""argo-server's WorkflowTemplateService and ClusterWorkflowTemplateService, and
``POST /api/v1/workflows/{namespace}/submit`` (a workflow from a template), over the store's
objects. Routes of argo-server that argosy does not serve answer 501 naming the feature."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from argosy.api.server import ERRORS, Api, BadRequest, Loose, Namespace, bearer
from argosy.api.service import from_template, name_values
from argosy.errors import InvalidWorkflow
from argosy.objects import ObjectService, object_faults

Object = dict[str, Any]
WFT, CWFT = "WorkflowTemplate", "ClusterWorkflowTemplate"

#: argo-server's routes argosy does not serve, by path prefix: what they are for.
NOT_IMPLEMENTED = {
    "/api/v1/archived-workflows": "the workflow archive",
    "/api/v1/workflow-event-bindings": "workflow event bindings",
    "/api/v1/events": "workflow events (webhooks)",
    "/api/v1/event-sources": "Argo Events event sources",
    "/api/v1/sensors": "Argo Events sensors",
    "/api/v1/stream": "Argo Events streams",
    "/api/v1/sync": "synchronization limits kept by the server",
    "/api/v1/tracking": "usage tracking",
    "/artifacts-by-uid": "artifacts by workflow uid",
    "/input-artifacts": "input artifacts",
    "/input-artifacts-by-uid": "input artifacts",
}
_PREFIX = re.compile("^(" + "|".join(re.escape(p) for p in sorted(NOT_IMPLEMENTED, key=len,
                                                                   reverse=True)) + ")(/|$)")


def not_implemented(path: str) -> str | None:
    """The message for a path of argo-server's API that argosy does not serve, else None."""
    m = _PREFIX.match(path)
    if m is None:
        return None
    return (f"{NOT_IMPLEMENTED[m.group(1)]} ({m.group(1)}) are not implemented by argosy "
            "server")


class TemplateRequest(Loose):
    """argo-server's (Cluster)WorkflowTemplateCreateRequest, UpdateRequest and LintRequest."""

    template: Object
    namespace: str | None = None


class SubmitOpts(Loose):
    entryPoint: str | None = None
    generateName: str | None = None
    name: str | None = None
    labels: str | None = Field(None, description="a=b,c=d")
    parameters: list[str] | None = Field(None, description="NAME=VALUE pairs")


class SubmitRequest(Loose):
    namespace: str | None = None
    resourceKind: str = Field(description="WorkflowTemplate or ClusterWorkflowTemplate")
    resourceName: str
    submitOptions: SubmitOpts | None = None


class Templates:
    """One kind's operations as argo-server words them, over the store's objects."""

    def __init__(self, api: Api, kind: str) -> None:
        self.api = api
        self.kind = kind
        self.objects = ObjectService(api.objects)

    def body(self, request: TemplateRequest, namespace: str | None) -> Object:
        template = dict(request.template)
        template.setdefault("apiVersion", "argoproj.io/v1alpha1")
        template.setdefault("kind", self.kind)
        if template["kind"] != self.kind:
            raise BadRequest(f'template.kind: expected {self.kind}, not "{template["kind"]}"')
        meta = template.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise BadRequest("template.metadata: expected an object")
        for where, value in (("namespace", request.namespace),
                             ("template.metadata.namespace", (meta or {}).get("namespace"))):
            if namespace and value and value != namespace:
                raise BadRequest(f'{where}: "{value}" does not match the request path\'s '
                                 f'namespace "{namespace}"')
        return template

    async def create(self, request: TemplateRequest, namespace: str | None = None) -> Object:
        template = self.body(request, namespace)
        stored, _ = await self.api.call(self.objects.put, template, namespace, mode="create")
        return stored

    async def update(self, name: str, request: TemplateRequest,
                     namespace: str | None = None) -> Object:
        template = self.body(request, namespace)
        template["metadata"] = dict(template.get("metadata") or {}, name=name)
        stored, _ = await self.api.call(self.objects.put, template, namespace, mode="update")
        return stored

    async def lint(self, request: TemplateRequest, namespace: str | None = None) -> Object:
        template = self.body(request, namespace)
        meta = dict(template.get("metadata") or {})
        if namespace:
            meta["namespace"] = namespace
        faults = await self.api.call(object_faults, dict(template, metadata=meta),
                                     self.api.objects.get_object)
        if faults:
            raise InvalidWorkflow(faults)
        return template

    async def list(self, namespace: str | None = None) -> Object:
        items = await self.api.call(self.objects.list, self.kind, namespace)
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": f"{self.kind}List",
                "metadata": {}, "items": items}

    async def get(self, name: str, namespace: str | None = None) -> Object:
        return await self.api.call(self.objects.get, self.kind, namespace, name)

    async def delete(self, name: str, namespace: str | None = None) -> Object:
        await self.api.call(self.objects.delete, self.kind, namespace, name)
        return {}


def template_routes(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(bearer)], responses=ERRORS)
    wft, cwft = Templates(api, WFT), Templates(api, CWFT)
    tags, ctags = ["WorkflowTemplateService"], ["ClusterWorkflowTemplateService"]
    base, cbase = "/workflow-templates/{namespace}", "/cluster-workflow-templates"

    @r.post(base, tags=tags, summary="CreateWorkflowTemplate")
    async def create(namespace: Namespace, body: TemplateRequest) -> Object:
        return await wft.create(body, namespace)

    @r.get(base, tags=tags, summary="ListWorkflowTemplates")
    async def list_(namespace: Namespace) -> Object:
        return await wft.list(namespace)

    @r.post(base + "/lint", tags=tags, summary="LintWorkflowTemplate")
    async def lint(namespace: Namespace, body: TemplateRequest) -> Object:
        return await wft.lint(body, namespace)

    @r.get(base + "/{name}", tags=tags, summary="GetWorkflowTemplate")
    async def get(namespace: Namespace, name: str) -> Object:
        return await wft.get(name, namespace)

    @r.put(base + "/{name}", tags=tags, summary="UpdateWorkflowTemplate")
    async def update(namespace: Namespace, name: str, body: TemplateRequest) -> Object:
        return await wft.update(name, body, namespace)

    @r.delete(base + "/{name}", tags=tags, summary="DeleteWorkflowTemplate")
    async def delete(namespace: Namespace, name: str) -> Object:
        return await wft.delete(name, namespace)

    @r.post(cbase, tags=ctags, summary="CreateClusterWorkflowTemplate")
    async def create_cluster(body: TemplateRequest) -> Object:
        return await cwft.create(body)

    @r.get(cbase, tags=ctags, summary="ListClusterWorkflowTemplates")
    async def list_cluster() -> Object:
        return await cwft.list()

    @r.post(cbase + "/lint", tags=ctags, summary="LintClusterWorkflowTemplate")
    async def lint_cluster(body: TemplateRequest) -> Object:
        return await cwft.lint(body)

    @r.get(cbase + "/{name}", tags=ctags, summary="GetClusterWorkflowTemplate")
    async def get_cluster(name: str) -> Object:
        return await cwft.get(name)

    @r.put(cbase + "/{name}", tags=ctags, summary="UpdateClusterWorkflowTemplate")
    async def update_cluster(name: str, body: TemplateRequest) -> Object:
        return await cwft.update(name, body)

    @r.delete(cbase + "/{name}", tags=ctags, summary="DeleteClusterWorkflowTemplate")
    async def delete_cluster(name: str) -> Object:
        return await cwft.delete(name)

    @r.post("/workflows/{namespace}/submit", tags=["WorkflowService"], summary="SubmitWorkflow")
    async def submit_(namespace: Namespace, body: SubmitRequest) -> Object:
        return await submit(api, namespace, body)

    return r


async def submit(api: Api, namespace: str, body: SubmitRequest) -> Object:
    """argo-server's SubmitWorkflow: a workflow from a (Cluster)WorkflowTemplate or a
    CronWorkflow."""
    opts = body.submitOptions or SubmitOpts()
    if body.namespace and body.namespace != namespace:
        raise BadRequest(f'namespace: "{body.namespace}" does not match the request '
                         f'path\'s namespace "{namespace}"')
    manifest = from_template(f"{body.resourceKind}/{body.resourceName}")
    try:
        parameters = name_values(opts.parameters or [])
        labels = name_values(x.strip() for x in (opts.labels or "").split(",") if x.strip())
    except ValueError as exc:
        raise BadRequest(f"submitOptions: expected NAME=VALUE, got {exc.args[0]!r}") from None
    created = await api.call(api.service.submit, manifest, namespace=namespace,
                             parameters=parameters, entrypoint=opts.entryPoint,
                             name=opts.name, generate_name=opts.generateName,
                             labels=labels, start_engine=api.spawn_engine)
    api.hub.wake()
    return created
