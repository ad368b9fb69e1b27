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


def cron_routes(api: Api) -> APIRouter:
    r = APIRouter(prefix="/api/v1/cron-workflows/{namespace}", dependencies=[Depends(bearer)],
                  responses=ERRORS, tags=["CronWorkflowService"])
    objects = ObjectService(api.service.store)

    def scheduled() -> None:
        if api.spawn_engine:
            from argosy.api.service import ensure_engine

            ensure_engine(api.service.store)

    async def put(body: Object, mode: str) -> Object:
        stored, _ = await api.call(objects.put, body, None, mode=mode)
        scheduled()
        return stored

    @r.post("", summary="CreateCronWorkflow")
    async def create(namespace: Namespace, body: CronRequest) -> Object:
        return await put(_body(body, namespace), "create")

    @r.get("", summary="ListCronWorkflows")
    async def list_(namespace: Namespace) -> Object:
        items = await api.call(objects.list, KIND, namespace)
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflowList",
                "metadata": {}, "items": items}

    @r.post("/lint", summary="LintCronWorkflow")
    async def lint(namespace: Namespace, body: CronRequest) -> Object:
        cron = _body(body, namespace)
        faults = await api.call(object_faults, cron, api.service.store.get_object)
        if faults:
            raise InvalidWorkflow(faults)
        return cron

    @r.get("/{name}", summary="GetCronWorkflow")
    async def get(namespace: Namespace, name: str) -> Object:
        return await api.call(objects.get, KIND, namespace, name)

    @r.put("/{name}", summary="UpdateCronWorkflow")
    async def update(namespace: Namespace, name: str, body: CronRequest) -> Object:
        return await put(_body(body, namespace, name), "update")

    @r.delete("/{name}", summary="DeleteCronWorkflow")
    async def delete(namespace: Namespace, name: str) -> Object:
        await api.call(objects.delete, KIND, namespace, name)
        return {}

    @r.put("/{name}/suspend", summary="SuspendCronWorkflow")
    async def suspend(namespace: Namespace, name: str) -> Object:
        return await api.call(set_suspend, api.service.store, namespace, name, True)

    @r.put("/{name}/resume", summary="ResumeCronWorkflow")
    async def resume(namespace: Namespace, name: str) -> Object:
        cron = await api.call(set_suspend, api.service.store, namespace, name, False)
        scheduled()
        return cron

    return r
