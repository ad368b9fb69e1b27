"""The ``container`` template type: one process, run by the selected executor.

The image is not pulled by the local executor; ``command``/``args``/``env``/``workingDir`` are
honoured. Its stdout is the node's ``outputs.result``, its exit status ``outputs.exitCode``.

Argo examples often give only ``args`` and rely on the image's entrypoint. Since no image is
pulled, users map images to host commands in ``$ARGOSY_HOME/images.yaml`` (and in the files
named by ``$ARGOSY_IMAGE_ENTRYPOINTS``, separated by ``:``, which override it)::

    argoproj/argosay:v2:            # exact; "argoproj/argosay" matches every tag,
      entrypoint: [argosay]         # "argoproj/argosay:*" is a wildcard pattern
      cmd: []                       # the image's CMD, used when the container has no args
      env: {PATH: "/opt/tools:$PATH"}   # the image's ENV, under the container's own env
      commands: {/argosay: argosay}     # in-image programs a `command` names -> host programs

``entrypoint``, ``cmd`` and ``commands`` programs starting with ``./`` or ``../`` are relative to
the file they are written in. The argv follows Kubernetes: ``command`` replaces the entrypoint
(and then ``args`` replace ``cmd``), ``args`` alone replace ``cmd``.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from argosy.plugin import (
    ArgoModel,
    Fault,
    NodeContext,
    NodeError,
    Outcome,
    ProcessRequest,
    TemplateType,
    home,
    hookimpl,
)
from argosy.plugins.volumes import volume_mounts

RESULT_BYTES = 256 << 10  # Argo's outputs.result: the last 256 kB of stdout

IMAGES_FILE = "images.yaml"
IMAGES_ENV = "ARGOSY_IMAGE_ENTRYPOINTS"


class EnvVar(ArgoModel):
    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = Field(None, alias="valueFrom")


class Container(ArgoModel):
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    env_from: list[dict[str, Any]] | None = Field(None, alias="envFrom")
    working_dir: str | None = Field(None, alias="workingDir")
    volume_mounts: list[dict[str, Any]] | None = Field(None, alias="volumeMounts")


# ---- image entrypoints ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImageConfig:
    """What an image would have supplied, as host commands; ``source`` is the file it is from."""

    source: Path
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)


_cache: dict[str, tuple[tuple[int, int], dict[str, ImageConfig]]] = {}


def images_files() -> list[Path]:
    """The mapping files, lowest precedence first."""
    return [Path(p) for p in _images_paths()]


def _images_paths() -> tuple[str, ...]:
    # Every container step looks its image up (twice): the names are worked out once for
    # each setting of the variables they come from.
    env = os.environ
    return _paths_for(env.get("ARGOSY_HOME"), env.get("HOME"), env.get(IMAGES_ENV, ""))


@functools.lru_cache(maxsize=8)
def _paths_for(_home: str | None, _user_home: str | None, extra: str) -> tuple[str, ...]:
    return (os.path.join(home(), IMAGES_FILE), *(p for p in extra.split(os.pathsep) if p))


def _normalize(ref: str) -> str:
    """``docker.io/library/python:3`` and ``python:3`` name the same image."""
    for prefix in ("docker.io/", "index.docker.io/"):
        ref = ref.removeprefix(prefix)
    return ref.removeprefix("library/")


def _split(ref: str) -> tuple[str, str | None]:
    """(repository, tag) of an image reference; a digest is ignored."""
    ref = _normalize(ref.split("@", 1)[0])
    repo, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag:  # the colon belonged to a registry port
        return ref, None
    return repo, tag


def _program(value: Any, base: Path) -> str:
    text = str(value)
    if text.startswith(("./", "../")):
        return str((base / text).resolve())
    return text


def _entry(key: str, value: Any, source: Path) -> ImageConfig:
    where = f"{source}: {key!r}"
    if not isinstance(value, dict):
        raise NodeError(f"{where}: expected a mapping with entrypoint/cmd/env/commands")
    unknown = set(value) - {"entrypoint", "cmd", "env", "commands"}
    if unknown:
        raise NodeError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    lists = {}
    for name in ("entrypoint", "cmd"):
        items = value.get(name) or []
        if not isinstance(items, list):
            raise NodeError(f"{where}.{name}: expected a list of strings")
        lists[name] = [_program(items[0], source.parent), *map(str, items[1:])] if items else []
    env, commands = value.get("env") or {}, value.get("commands") or {}
    if not isinstance(env, dict) or not isinstance(commands, dict):
        raise NodeError(f"{where}: env and commands must be mappings")
    # $VAR in the image's env stands for the engine's own, as ENV PATH=$PATH:… does in a build.
    return ImageConfig(source, lists["entrypoint"], lists["cmd"],
                       {str(k): os.path.expandvars(str(v)) for k, v in env.items()},
                       {str(k): _program(v, source.parent) for k, v in commands.items()})


def _load(name: str) -> dict[str, ImageConfig]:
    try:
        stat = os.stat(name)
    except FileNotFoundError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(name)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    path = Path(name)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise NodeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise NodeError(f"{path}: expected a mapping of image -> {{entrypoint: [...]}}")
    entries = {_normalize(str(k)): _entry(str(k), v, path) for k, v in data.items()}
    _cache[name] = (stamp, entries)
    return entries


def image_config(image: str | None) -> ImageConfig | None:
    """The mapping entry for ``image``: exact, then untagged, then the longest wildcard."""
    if not image:
        return None
    entries: dict[str, ImageConfig] = {}
    for name in _images_paths():
        entries.update(_load(name))
    if not entries:  # no mapping file: asked twice a step
        return None
    repo, tag = _split(image)
    tagged = f"{repo}:{tag or 'latest'}"
    for key in (tagged, repo):
        if key in entries:
            return entries[key]
    patterns = sorted((k for k in entries if "*" in k or "?" in k), key=len, reverse=True)
    for pattern in patterns:
        if fnmatch.fnmatchcase(tagged, pattern) or fnmatch.fnmatchcase(repo, pattern):
            return entries[pattern]
    return None


def _unknown_entrypoint(image: str | None) -> str:
    if not image:
        return "container has neither a command nor an image: give it a command"
    files = images_files()
    where = str(files[0]) + (f" (or a file in ${IMAGES_ENV})" if len(files) > 1 else "")
    return (f'container has no command and the entrypoint of image "{image}" is not known: '
            f"this executor runs host commands and pulls no images, so give the container a "
            f'command, or map the image to a host command in {where}, e.g. '
            f'"{image}": {{entrypoint: [my-command]}}')


# ---- the process ---------------------------------------------------------------------------


def argv_of(container: Container) -> list[str]:
    """command + args, with the image's entrypoint/cmd where the container leaves them out."""
    image = image_config(container.image)
    if container.command:
        argv = [*container.command, *(container.args or [])]
    elif image is None:
        raise NodeError(_unknown_entrypoint(container.image))
    elif container.args:
        argv = [*image.entrypoint, *container.args]
    else:
        argv = [*image.entrypoint, *image.cmd]
    if not argv:
        raise NodeError(f'image "{container.image}" has neither entrypoint nor cmd in '
                        f"{image.source if image else IMAGES_FILE}, and the container gives "
                        "no command")
    if image is not None:
        argv[0] = image.commands.get(str(argv[0]), argv[0])
    return [str(a) for a in argv]


# ``lookup(kind, name)``: a ConfigMap or Secret of the workflow's namespace, or None.
ObjectLookup = Callable[[str, str], dict[str, Any] | None]


def _data(lookup: ObjectLookup | None, kind: str, ref: dict[str, Any],
          what: str) -> dict[str, str] | None:
    """A ConfigMap's or Secret's data (a Secret's decoded), as a pod's kubelet reads it; None
    when it is missing and ``optional``."""
    name = str(ref.get("name") or "")
    found = lookup(kind, name) if lookup is not None else None
    if found is None:
        if ref.get("optional"):
            return None
        raise NodeError(f'{what}: {kind} "{name}" not found')
    data = found.get("data") or {}
    if kind == "Secret":
        return {k: base64.b64decode(v).decode("utf-8", errors="replace") for k, v in data.items()}
    return {k: str(v) for k, v in data.items()}


def _env_value(var: EnvVar, lookup: ObjectLookup | None) -> str | None:
    source = var.value_from or {}
    for field_name, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        ref = source.get(field_name)
        if isinstance(ref, dict):
            data = _data(lookup, kind, ref, f"env {var.name}")
            key = str(ref.get("key") or "")
            if data is not None and key in data:
                return data[key]
            if data is not None and not ref.get("optional"):
                raise NodeError(f'env {var.name}: key "{key}" not found in {kind} '
                                f'"{ref.get("name")}"')
            return None
    raise NodeError(f"env {var.name}: valueFrom takes configMapKeyRef or secretKeyRef here")


def env_of(container: Container, lookup: ObjectLookup | None = None,
           mapped: bool = True) -> dict[str, str]:
    """The process env beyond the engine's: the image's (if ``mapped`` in images.yaml), then
    the container's ``envFrom`` and ``env``, ConfigMaps and Secrets read now, as a kubelet reads
    them when it starts a container (their values go to the process only)."""
    image = image_config(container.image) if mapped else None
    env = dict(image.env) if image is not None else {}
    for index, source in enumerate(container.env_from or []):
        prefix = str(source.get("prefix") or "")
        for field_name, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if isinstance(source.get(field_name), dict):
                data = _data(lookup, kind, source[field_name], f"envFrom[{index}]")
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for var in container.env or []:
        value = _env_value(var, lookup) if var.value_from is not None else var.value or ""
        if value is not None:
            env[var.name] = value
    return env


def request_of(ctx: NodeContext, container: Container, argv: list[str], node_dir: Path,
               script: str | None = None) -> ProcessRequest:
    pods = getattr(ctx.executor, "pulls_images", False)
    # An executor running images gets the env resolved when it asks (its image supplies the
    # rest); one making pods puts env in the pod spec, where the kubelet resolves it.
    wants_env = not pods or getattr(ctx.executor, "wants_env", False)
    node = {"id": ctx.node.id, "name": ctx.node.name, "displayName": ctx.node.display_name,
            "templateName": ctx.node.template_name}
    return ProcessRequest(
        argv=argv, env=env_of(container, ctx.get_object, mapped=not pods) if wants_env else {},
        working_dir=container.working_dir, node_dir=node_dir, script=script,
        image=container.image, template=ctx.raw, workflow=ctx.workflow, node=node)


def argv_for(ctx: NodeContext, container: Container) -> list[str]:
    """The process's argv; an executor that runs images gets command and args as written."""
    if getattr(ctx.executor, "pulls_images", False):
        return [*(container.command or []), *(container.args or [])]
    return argv_of(container)


async def run_process(ctx: NodeContext, container: Container, argv: list[str],
                      script: str | None = None) -> Outcome:
    request = request_of(ctx, container, argv, ctx.node_dir, script)
    if getattr(ctx.executor, "binds_host_volumes", False):  # a cluster mounts its own
        request = dataclasses.replace(request, volumes=(
            *volume_mounts(ctx, container.volume_mounts), *ctx.artifact_mounts))
    if getattr(ctx.executor, "places_artifacts", False):
        request = dataclasses.replace(request, input_artifacts=ctx.artifact_mounts,
                                      artifact_plan=ctx.artifact_plan)
    elif ctx.artifact_mounts and not getattr(ctx.executor, "binds_host_volumes", False):
        raise NodeError(f"input artifacts are not supported by the {ctx.executor.name} "
                        "executor yet")
    from argosy.plugins import pod  # it builds on this module

    # An executor that makes pods puts sidecars and init containers in the node's one pod.
    if pod.has_pod_extras(ctx.raw) and (not getattr(ctx.executor, "pulls_images", False)
                                        or getattr(ctx.executor, "runs_pod_containers", False)):
        return await pod.run_pod(ctx, request)
    if ctx.raw.get("daemon") is not True:
        return await ctx.executor.run_process(request)
    outcome = await ctx.executor.run_process(dataclasses.replace(request, started=ctx.daemoned))
    if outcome.phase == "Succeeded":
        outcome.phase = "Failed"  # a daemon is meant to serve until its scope ends, as in Argo
    return outcome


async def run(ctx: NodeContext) -> Outcome:
    return await run_process(ctx, ctx.body, argv_for(ctx, ctx.body))


def validate(body: Container, path: str) -> list[Fault]:
    return [] if body.image else [Fault(f"{path}.image", "image is required")]


def result_of(stdout: Path) -> str:
    """Argo's outputs.result from a stdout file: its last 256 kB, one final newline trimmed."""
    try:
        with open(stdout, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - RESULT_BYTES - 1))
            data = f.read()
    except FileNotFoundError:
        return ""
    return data.removesuffix(b"\n")[-RESULT_BYTES:].decode("utf-8", errors="replace")


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("container", "Pod", run, Container, validate, artifacts=True)]
