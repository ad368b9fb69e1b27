"""argo-server's CronWorkflowService over the store's objects; the engine's scheduler runs
what is stored here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from argosy.api.server import ERRORS, Api, BadRequest, Loose, Namespace, bearer
from argosy.cron import KIND, set_suspend
from argosy.errors import InvalidWorkflow
from argosy.objects import ObjectService, object_faults

Object = dict[str, Any]


class CronRequest(Loose):
    """argo-server's CreateCronWorkflowRequest, UpdateCronWorkflowRequest and
    LintCronWorkflowRequest."""

    cronWorkflow: Object
    namespace: str | None = None


def _body(request: CronRequest, namespace: str, name: str | None = None) -> Object:
    body = dict(request.cronWorkflow)
    body.setdefault("apiVersion", "argoproj.io/v1alpha1")
    body.setdefault("kind", KIND)
    if body["kind"] != KIND:
        raise BadRequest(f'cronWorkflow.kind: expected {KIND}, not "{body["kind"]}"')
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest("cronWorkflow.metadata: expected an object")
    meta = dict(meta or {})
    for where, value in (("namespace", request.namespace),
                         ("cronWorkflow.metadata.namespace", meta.get("namespace"))):
        if value and value != namespace:
            raise BadRequest(f'{where}: "{value}" does not match the request path\'s namespace '
                             f'"{namespace}"')
    meta["namespace"] = namespace
    if name is not None:
        meta["name"] = name
    return dict(body, metadata=meta)


class Crons:
    """argo-server's CronWorkflowService operations over the store's objects (the REST routes
    and the Jupyter extension's both call these)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.objects = ObjectService(api.objects)

    def scheduled(self) -> None:
        if self.api.spawn_engine:
            from argosy.api.service import ensure_engine

            ensure_engine(self.api.service.store)

    async def put(self, body: Object, mode: str) -> Object:
        stored, _ = await self.api.call(self.objects.put, body, None, mode=mode)
        self.scheduled()
        return stored

    async def create(self, namespace: str, request: CronRequest) -> Object:
        return await self.put(_body(request, namespace), "create")

    async def list(self, namespace: str) -> Object:
        items = await self.api.call(self.objects.list, KIND, namespace)
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflowList",
                "metadata": {}, "items": items}

    async def lint(self, namespace: str, request: CronRequest) -> Object:
        cron = _body(request, namespace)
        faults = await self.api.call(object_faults, cron, self.api.objects.get_object)
        if faults:
            raise InvalidWorkflow(faults)
        return cron

    async def get(self, namespace: str, name: str) -> Object:
        return await self.api.call(self.objects.get, KIND, namespace, name)

    async def update(self, namespace: str, name: str, request: CronRequest) -> Object:
        return await self.put(_body(request, namespace, name), "update")

    async def delete(self, namespace: str, name: str) -> Object:
        await self.api.call(self.objects.delete, KIND, namespace, name)
        return {}

    async def suspend(self, namespace: str, name: str, suspend: bool) -> Object:
        cron = await self.api.call(set_suspend, self.api.objects, namespace, name, suspend)
        if not suspend:
            self.scheduled()
        return cron


def cron_routes(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1/cron-workflows/{namespace}", dependencies=[Depends(bearer)],
                  responses=ERRORS, tags=["CronWorkflowService"])
    crons = Crons(api)

    @r.post("", summary="CreateCronWorkflow")
    async def create(namespace: Namespace, body: CronRequest) -> Object:
        return await crons.create(namespace, body)

    @r.get("", summary="ListCronWorkflows")
    async def list_(namespace: Namespace) -> Object:
        return await crons.list(namespace)

    @r.post("/lint", summary="LintCronWorkflow")
    async def lint(namespace: Namespace, body: CronRequest) -> Object:
        return await crons.lint(namespace, body)

    @r.get("/{name}", summary="GetCronWorkflow")
    async def get(namespace: Namespace, name: str) -> Object:
        return await crons.get(namespace, name)

    @r.put("/{name}", summary="UpdateCronWorkflow")
    async def update(namespace: Namespace, name: str, body: CronRequest) -> Object:
        return await crons.update(namespace, name, body)

    @r.delete("/{name}", summary="DeleteCronWorkflow")
    async def delete(namespace: Namespace, name: str) -> Object:
        return await crons.delete(namespace, name)

    @r.put("/{name}/suspend", summary="SuspendCronWorkflow")
    async def suspend(namespace: Namespace, name: str) -> Object:
        return await crons.suspend(namespace, name, True)

    @r.put("/{name}/resume", summary="ResumeCronWorkflow")
    async def resume(namespace: Namespace, name: str) -> Object:
        return await crons.suspend(namespace, name, False)

    return r
