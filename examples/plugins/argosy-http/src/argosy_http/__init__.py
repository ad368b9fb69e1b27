"""Argo's ``http`` template type, as a third-party argosy plugin.

A node makes one HTTP request and ends with Argo's semantics (``docs/http-template.md``, the
agent's ``executeHTTPTemplate``):

* the response body is ``outputs.result``, whatever the phase;
* without ``successCondition`` the node Succeeds on a 2xx status, otherwise it Fails with
  ``received non-2xx response code: <code>``;
* ``successCondition`` is an expr-language expression over ``response.statusCode`` (int),
  ``response.body`` (str), ``response.headers`` (name -> list of values, names in Go's
  canonical form, ``Content-Type``) and ``request.method/url/body/headers``; false Fails the
  node with ``successCondition '<expr>' evaluated false``;
* a request that gets no response (refused, unknown host, ``timeoutSeconds`` exceeded, default
  30) Fails the node with a message in Go's words: ``Get "<url>": dial tcp …: connection refused``.

Configuration (``$ARGOSY_HOME/config.yaml``): ``plugins: {http: {timeoutSeconds: 60}}`` sets the
timeout of requests whose template gives none.

The node type is ``HTTP``: it does not take one of ``spec.parallelism``'s pod slots, as in Argo
where the agent runs it. After an engine restart an unfinished node sends its request again (as
a restarted Argo agent would): make non-idempotent endpoints safe to call twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import ConfigDict, Field

from argosy.plugin import (
    ArgoModel,
    ExpressionError,
    Fault,
    Outcome,
    TemplateType,
    evaluate_expr,
    hookimpl,
)

DEFAULT_TIMEOUT_SECONDS = 30  # documented by Argo for an unset timeoutSeconds
MAX_REDIRECTS = 10  # Go's http.Client default
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an HTTP method is a token (RFC 9110)


class _Model(ArgoModel):
    # Go decodes YAML scalars into string fields (`value: 42`), so numbers are text here too.
    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


class HeaderSource(_Model):
    secret_key_ref: dict[str, Any] | None = Field(None, alias="secretKeyRef")


class Header(_Model):
    name: str
    value: str = ""
    value_from: HeaderSource | None = Field(None, alias="valueFrom")


class BodySource(_Model):
    bytes: str | None = None  # base64, as Go encodes a []byte in JSON


class HTTP(_Model):
    method: str = "GET"
    url: str
    headers: list[Header] = []
    timeout_seconds: int | None = Field(None, alias="timeoutSeconds")
    success_condition: str = Field("", alias="successCondition")
    body: str = ""
    body_from: BodySource | None = Field(None, alias="bodyFrom")
    insecure_skip_verify: bool = Field(False, alias="insecureSkipVerify")


class RequestFailed(Exception):
    """The request got no response; the message is the node's."""


# ---- the node ------------------------------------------------------------------------------


async def run(ctx: Any) -> Outcome:
    spec: HTTP = ctx.body
    method = (spec.method or "GET").upper()
    unsupported = _unsupported_headers(spec)
    if unsupported:
        return Outcome("Error", unsupported)
    timeout = spec.timeout_seconds
    if timeout is None:  # the operator's default ($ARGOSY_HOME/config.yaml), else Argo's
        timeout = float(ctx.config.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))
    try:
        response = await _send(spec, method, timeout)
    except RequestFailed as exc:
        return Outcome("Failed", str(exc), log=f"{method} {spec.url}: {exc}\n")
    body = response.content.decode("utf-8", errors="replace")
    phase, message = _judge(spec, method, response, body)
    log = f"{method} {spec.url} -> {response.status_code} ({len(response.content)} bytes)\n"
    return Outcome(phase, message, result=body, log=log)


async def _send(spec: HTTP, method: str, timeout: float) -> httpx.Response:
    """One request, the body read, all within ``timeout`` seconds (one deadline, as Go's
    context); cancellation of the node cancels it."""
    headers = [(h.name, h.value) for h in spec.headers]
    try:
        async with asyncio.timeout(timeout), httpx.AsyncClient(
                verify=not spec.insecure_skip_verify, follow_redirects=True,
                max_redirects=MAX_REDIRECTS, timeout=None) as client:
            return await client.request(method, spec.url, headers=headers,
                                        content=_request_body(spec))
    except TimeoutError:
        raise RequestFailed(_go_error(method, spec.url, "context deadline exceeded "
                                      f"(timeoutSeconds: {timeout:g})")) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise RequestFailed(_describe(method, spec.url, exc)) from None


def _judge(spec: HTTP, method: str, response: httpx.Response, body: str) -> tuple[str, str]:
    if not spec.success_condition:
        if 200 <= response.status_code < 300:
            return "Succeeded", ""
        return "Failed", f"received non-2xx response code: {response.status_code}"
    env = {
        "request": {"method": method, "url": spec.url, "body": spec.body,
                    "bodyBytes": list(_request_body(spec)) if spec.body_from else None,
                    "headers": {h.name: [h.value] for h in spec.headers if not h.value_from}},
        "response": {"statusCode": response.status_code, "body": body,
                     "headers": _response_headers(response)},
    }
    try:
        ok = evaluate_expr(spec.success_condition, env)
    except ExpressionError as exc:
        return "Failed", str(exc)
    if not isinstance(ok, bool):
        return "Failed", f"unable to cast expression result '{ok}' to bool"
    if not ok:
        return "Failed", f"successCondition '{spec.success_condition}' evaluated false"
    return "Succeeded", ""


def _request_body(spec: HTTP) -> bytes:
    if spec.body_from is not None:
        return base64.b64decode(spec.body_from.bytes or "")
    return spec.body.encode()


def _unsupported_headers(spec: HTTP) -> str:
    for i, h in enumerate(spec.headers):
        if h.value_from is not None and h.value_from.secret_key_ref is not None:
            ref = h.value_from.secret_key_ref
            return (f"http.headers[{i}] ({h.name}): valueFrom.secretKeyRef "
                    f"({ref.get('name')}/{ref.get('key')}) is not supported: this engine has "
                    "no Kubernetes secrets; pass the value as a parameter instead")
    return ""


def _response_headers(response: httpx.Response) -> dict[str, list[str]]:
    """Go's ``http.Header``: canonical names, every value of a repeated header in order."""
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in response.headers.raw:
        name = _canonical(raw_name.decode("latin-1"))
        headers.setdefault(name, []).append(raw_value.decode("latin-1"))
    return headers


def _canonical(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: ``content-type`` -> ``Content-Type``."""
    if not _TOKEN.match(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


# ---- messages in Go's words (what Argo users search for) ----------------------------------


def _go_error(method: str, url: str, reason: str) -> str:
    return f'{method[:1]}{method[1:].lower()} "{url}": {reason}'


def _describe(method: str, url: str, exc: Exception) -> str:
    if isinstance(exc, httpx.InvalidURL):
        return f'parse "{url}": {exc}'
    if isinstance(exc, httpx.UnsupportedProtocol):
        scheme = urlsplit(url).scheme
        return _go_error(method, url, f'unsupported protocol scheme "{scheme}"')
    if isinstance(exc, httpx.TooManyRedirects):
        return _go_error(method, url, f"stopped after {MAX_REDIRECTS} redirects")
    if isinstance(exc, httpx.ConnectError):
        return _go_error(method, url, _dial_error(url, exc))
    return _go_error(method, url, str(exc) or type(exc).__name__)


def _dial_error(url: str, exc: Exception) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    cause = _root_os_error(exc)
    if isinstance(cause, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if cause is not None and cause.errno == errno.ECONNREFUSED:
        return f"dial tcp {host}:{port}: connect: connection refused"
    reason = (cause.strerror if cause is not None and cause.strerror else None) or str(exc)
    return f"dial tcp {host}:{port}: {reason.lower()}"


def _root_os_error(exc: BaseException) -> OSError | None:
    """The innermost OSError with an errno (httpx wraps it two or three times)."""
    found = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            found = current
        current = current.__cause__ or current.__context__
    return found


# ---- lint ----------------------------------------------------------------------------------


def validate(body: HTTP, path: str) -> list[Fault]:
    """Faults ``argosy lint`` reports before anything runs (templated values are checked when
    the node runs)."""
    faults = []
    if body.method and "{{" not in body.method and not _TOKEN.match(body.method):
        faults.append(Fault(f"{path}.method", f'invalid method "{body.method}"'))
    if "{{" not in body.url:
        scheme = urlsplit(body.url).scheme
        if scheme not in ("http", "https"):
            faults.append(Fault(f"{path}.url", f'unsupported protocol scheme "{scheme}": '
                                "give an http:// or https:// URL"))
    if body.timeout_seconds is not None and body.timeout_seconds <= 0:
        faults.append(Fault(f"{path}.timeoutSeconds", "must be a positive number of seconds"))
    if body.body and body.body_from is not None:
        faults.append(Fault(path, "give body or bodyFrom, not both"))
    if body.body_from is not None and body.body_from.bytes:
        try:
            base64.b64decode(body.body_from.bytes, validate=True)
        except binascii.Error:
            faults.append(Fault(f"{path}.bodyFrom.bytes", "not valid base64"))
    for i, h in enumerate(body.headers):
        if h.value_from is not None and h.value_from.secret_key_ref is None:
            faults.append(Fault(f"{path}.headers[{i}].valueFrom", "needs secretKeyRef"))
    faults.extend(_condition_faults(body.success_condition, f"{path}.successCondition"))
    return faults


def _condition_faults(condition: str, path: str) -> list[Fault]:
    """A syntax error in ``successCondition`` (its value needs a response, so only syntax)."""
    if not condition or "{{" in condition:
        return []
    sample = {"request": {"method": "GET", "url": "", "body": "", "bodyBytes": None,
                          "headers": {}},
              "response": {"statusCode": 200, "body": "", "headers": {}}}
    try:
        evaluate_expr(condition, sample)
    except ExpressionError as exc:
        if str(exc).startswith("invalid expression"):
            return [Fault(path, str(exc))]
    return []


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("http", "HTTP", run, HTTP, validate)]
