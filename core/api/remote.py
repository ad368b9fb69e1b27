"""The service layer over an argo-server-compatible REST API (``--server URL``).

``RemoteService`` has the methods of :class:`argosy.api.service.WorkflowService`, so every CLI
verb works the same against the local store or a server. Paths and request bodies are
argo-server's (``/api/v1/workflows/{namespace}[/{name}[/suspend|resume|…]]``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from argosy.errors import ArgosyError, InvalidWorkflow, NotFound, Unreachable
from argosy.registry import Registry
from argosy.spec.names import check_namespace

API = "/api/v1/workflows"


class ServerError(ArgosyError):
    """The server refused a request; the message is the server's own."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _pairs(params: dict[str, str] | None) -> list[str]:
    # argo-server takes retry/resubmit parameters as "NAME=VALUE" strings.
    return [f"{k}={v}" for k, v in (params or {}).items()]


def _path(namespace: str | None, *parts: str) -> str:
    """A workflow path; the namespace checked and each part escaped, so that no value can
    address another route."""
    ns = check_namespace(namespace or "default")
    return "/".join([API, ns, *(quote(part, safe="") for part in parts)])


def _created_within(wf: dict[str, Any], seconds: float, now: datetime) -> bool:
    created = (wf.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return False
    at = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (now - at).total_seconds() <= seconds


class RemoteService:
    """Argo's workflow operations through a remote ``argosy server`` (or argo-server)."""

    def __init__(self, url: str, token: str | None = None, *,
                 registry: Registry | None = None, timeout: float = 30.0) -> None:
        headers = {}
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        if "://" not in url:
            url = f"http://{url}"
        self.url = url.rstrip("/")
        self.registry = registry
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    # ---- plumbing -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc}") from None
        self._check(resp)
        return resp.json() if resp.content else {}

    @staticmethod
    def _check(resp: httpx.Response) -> None:
        if resp.is_success:
            return
        try:
            body = resp.json()
            message = body.get("message") or body.get("detail") or resp.text
        except ValueError:
            message = resp.text or resp.reason_phrase
        if not isinstance(message, str):
            message = json.dumps(message)
        if resp.status_code == 404:
            raise NotFound(message)
        if resp.status_code in (401, 403):
            raise ServerError(f"{resp.status_code} {resp.reason_phrase}: {message}",
                              resp.status_code)
        raise ServerError(message, resp.status_code)

    def _put(self, namespace: str, name: str, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = {"name": name, "namespace": namespace or "default",
                   **{k: v for k, v in body.items() if v}}
        return self._call("PUT", _path(namespace, name, verb), json=payload)

    # ---- create and read ----------------------------------------------------------------------

    def submit(self, source: str | Path | dict[str, Any], *, start_engine: bool = True,
               **overrides: Any) -> dict[str, Any]:
        """Validated by the server, against its plugins (this process may lack the plugin a
        template type comes from); its faults are placed in the file as a local lint's."""
        from argosy.api.service import lint_document, load_document, locate_faults

        doc = load_document(source, **overrides)
        manifest = doc.data
        if not isinstance(manifest, dict):  # nothing to send: lint says why, as locally
            raise InvalidWorkflow(lint_document(doc, self.registry))
        manifest.pop("status", None)
        ns = (manifest.get("metadata") or {}).get("namespace") or "default"
        try:
            return self._call("POST", _path(ns), json={"namespace": ns, "workflow": manifest})
        except ServerError as exc:
            if exc.status == 400:
                raise locate_faults(doc, str(exc), **overrides) from None
            raise

    # ---- WorkflowTemplates and ClusterWorkflowTemplates ---------------------------------------

    @staticmethod
    def _template_path(kind: str, namespace: str | None, *parts: str) -> str:
        if kind == "ClusterWorkflowTemplate":
            base = "/api/v1/cluster-workflow-templates"
        elif kind == "CronWorkflow":
            base = f"/api/v1/cron-workflows/{check_namespace(namespace or 'default')}"
        else:
            base = f"/api/v1/workflow-templates/{check_namespace(namespace or 'default')}"
        return "/".join([base, *(quote(part, safe="") for part in parts)])

    def create_template(self, body: dict[str, Any], namespace: str | None = None, *,
                        mode: str = "create", check: bool = True) -> dict[str, Any]:
        """The server checks it (``check`` is the local service's)."""
        kind = body.get("kind") if isinstance(body, dict) else None
        if kind not in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
            raise ArgosyError(f'expected a WorkflowTemplate or a ClusterWorkflowTemplate, not '
                              f'"{kind}"')
        ns = (body.get("metadata") or {}).get("namespace") or namespace
        payload = {"template": body}
        if mode == "create":
            return self._call("POST", self._template_path(kind, ns), json=payload)
        name = (body.get("metadata") or {}).get("name") or ""
        try:
            return self._call("PUT", self._template_path(kind, ns, name), json=payload)
        except NotFound:
            if mode == "update":
                raise
            return self._call("POST", self._template_path(kind, ns), json=payload)

    def templates(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", self._template_path(kind, namespace)).get("items") or []

    def template(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self._call("GET", self._template_path(kind, namespace, name))

    def delete_template(self, kind: str, namespace: str | None, name: str) -> None:
        self._call("DELETE", self._template_path(kind, namespace, name))

    # ---- CronWorkflows: templates() and friends serve them too, by kind ----------------------

    def create_cron(self, body: dict[str, Any], namespace: str | None = None,
                    **_: Any) -> dict[str, Any]:
        ns = (body.get("metadata") or {}).get("namespace") or namespace
        return self._call("POST", self._template_path("CronWorkflow", ns),
                          json={"cronWorkflow": body})

    def suspend_cron(self, namespace: str | None, name: str, suspend: bool,
                     **_: Any) -> dict[str, Any]:
        verb = "suspend" if suspend else "resume"
        return self._call("PUT", self._template_path("CronWorkflow", namespace, name, verb),
                          json={})

    def artifact(self, namespace: str, name: str, node_id: str, artifact: str) -> bytes:
        try:
            parts = (check_namespace(namespace), name, node_id, artifact)
            resp = self.http.get("/artifacts/" + "/".join(quote(p, safe="") for p in parts))
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc}") from None
        self._check(resp)
        return resp.content

    def save_artifact(self, namespace: str, name: str, node_id: str, artifact: str,
                      dest: Path) -> None:
        """Write an output artifact to the file ``dest`` as it arrives (a partial download is
        never left there)."""
        parts = (check_namespace(namespace), name, node_id, artifact)
        part = dest.with_name(dest.name + ".part")
        try:
            with self.http.stream("GET", "/artifacts/" + "/".join(
                    quote(p, safe="") for p in parts)) as resp:
                if not resp.is_success:
                    resp.read()
                    self._check(resp)
                with open(part, "wb") as out:
                    for chunk in resp.iter_bytes(1 << 20):
                        out.write(chunk)
            os.replace(part, dest)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc}") from None
        finally:
            part.unlink(missing_ok=True)

    def get(self, namespace: str, name: str, *, nodes: bool = True) -> dict[str, Any]:
        return self._call("GET", _path(namespace, name))

    def list(self, namespace: str | None = None, *, label_selector: str | None = None,
             phases: list[str] | None = None, prefix: str | None = None,
             since: float | None = None, nodes: bool = False,
             chunk_size: int = 0) -> list[dict[str, Any]]:
        """Workflows newest first; filters the server does not know are applied here."""
        params: dict[str, Any] = {}
        if label_selector:
            params["listOptions.labelSelector"] = label_selector
        if chunk_size:
            params["listOptions.limit"] = chunk_size
        items: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", _path(namespace) if namespace else API, params=params)
            items.extend(page.get("items") or [])
            cont = (page.get("metadata") or {}).get("continue")
            if not cont or not chunk_size:
                break
            params["listOptions.continue"] = cont
        now = datetime.now(UTC)
        out = [wf for wf in items
               if (not phases or (wf.get("status") or {}).get("phase", "Pending") in phases)
               and (not prefix or wf["metadata"]["name"].startswith(prefix))
               and (since is None or _created_within(wf, since, now))]
        out.sort(key=lambda wf: (wf["metadata"].get("creationTimestamp") or ""), reverse=True)
        return out

    def delete(self, namespace: str, name: str) -> None:
        self._call("DELETE", _path(namespace, name))

    # ---- steer a running workflow -------------------------------------------------------------

    def suspend(self, namespace: str, name: str) -> dict[str, Any]:
        return self._put(namespace, name, "suspend", {})

    def resume(self, namespace: str, name: str,
               node_field_selector: str | None = None) -> dict[str, Any]:
        return self._put(namespace, name, "resume", {"nodeFieldSelector": node_field_selector})

    def stop(self, namespace: str, name: str, message: str | None = None) -> dict[str, Any]:
        return self._put(namespace, name, "stop", {"message": message})

    def terminate(self, namespace: str, name: str) -> dict[str, Any]:
        return self._put(namespace, name, "terminate", {})

    def set_node(self, namespace: str, name: str, node_field_selector: str, *,
                 phase: str | None = None, message: str | None = None,
                 output_parameters: dict[str, str] | None = None) -> dict[str, Any]:
        return self._put(namespace, name, "set", {
            "nodeFieldSelector": node_field_selector, "phase": phase, "message": message,
            "outputParameters": json.dumps(output_parameters) if output_parameters else None})

    # ---- run again ----------------------------------------------------------------------------

    def retry(self, namespace: str, name: str, *, restart_successful: bool = False,
              node_field_selector: str | None = None,
              parameters: dict[str, str] | None = None,
              start_engine: bool = True) -> dict[str, Any]:
        return self._put(namespace, name, "retry", {
            "restartSuccessful": restart_successful, "nodeFieldSelector": node_field_selector,
            "parameters": _pairs(parameters)})

    def resubmit(self, namespace: str, name: str, *, parameters: dict[str, str] | None = None,
                 memoized: bool = False, start_engine: bool = True) -> dict[str, Any]:
        return self._put(namespace, name, "resubmit", {
            "memoized": memoized, "parameters": _pairs(parameters)})

    # ---- logs ---------------------------------------------------------------------------------

    def log_entries(self, namespace: str, name: str, *, pod: str | None = None,
                    grep: str | None = None, tail: int | None = None,
                    since: float | None = None, timestamps: bool = False,
                    follow: bool = False, container: str = "main"
                    ) -> Iterator[tuple[str, str]]:
        """``(pod name, line)`` as the server streams them (newline-delimited JSON)."""
        params: dict[str, Any] = {"logOptions.container": container}
        for key, value in (("podName", pod), ("grep", grep), ("logOptions.tailLines", tail),
                           ("logOptions.sinceSeconds", int(since) if since else None)):
            if value:
                params[key] = value
        if timestamps:
            params["logOptions.timestamps"] = "true"
        if follow:
            params["logOptions.follow"] = "true"
        path = _path(namespace, name, "log")
        try:
            with self.http.stream("GET", path, params=params, timeout=None) as resp:
                if not resp.is_success:
                    resp.read()
                    self._check(resp)
                for line in resp.iter_lines():
                    entry = json.loads(line) if line.strip() else {}
                    if entry.get("error"):
                        raise ServerError(entry["error"].get("message", "log stream failed"))
                    result = entry.get("result") or {}
                    if "content" in result:
                        yield result.get("podName", ""), result["content"]
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc}") from None

    def logs(self, namespace: str, name: str, *, node: str | None = None,
             grep: str | None = None, tail: int | None = None,
             container: str = "main") -> list[tuple[str, str]]:
        return list(self.log_entries(namespace, name, pod=node, grep=grep, tail=tail,
                                     container=container))
