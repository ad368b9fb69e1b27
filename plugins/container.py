"""The ``container`` template type: one process, run by the selected executor.

The image is not pulled by the local executor; ``command``/``args``/``env``/``workingDir`` are
honoured. Its stdout is the node's ``outputs.result``, its exit status ``outputs.exitCode``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from argosy.engine import NodeContext, NodeError
from argosy.errors import Fault
from argosy.models import ArgoModel
from argosy.plugin import Outcome, ProcessRequest, TemplateType, hookimpl


class EnvVar(ArgoModel):
    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = Field(None, alias="valueFrom")


class Container(ArgoModel):
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    working_dir: str | None = Field(None, alias="workingDir")


def argv_of(container: Container) -> list[str]:
    argv = [*(container.command or []), *(container.args or [])]
    if not container.command:
        raise NodeError(
            f"container has no command: the {container.image or 'image'}'s entrypoint is not "
            "known to this executor; give the template a command")
    return [str(a) for a in argv]


def env_of(container: Container) -> dict[str, str]:
    env = {}
    for var in container.env or []:
        if var.value_from is not None:
            raise NodeError(f"env {var.name}: valueFrom is not supported by this executor")
        env[var.name] = var.value or ""
    return env


async def run_process(ctx: NodeContext, container: Container, argv: list[str],
                      script: str | None = None) -> Outcome:
    request = ProcessRequest(
        argv=argv, env=env_of(container), working_dir=container.working_dir,
        node_dir=ctx.node_dir, script=script, image=container.image, template=ctx.raw)
    return await ctx.executor.run_process(request)


async def run(ctx: NodeContext) -> Outcome:
    return await run_process(ctx, ctx.body, argv_of(ctx.body))


def validate(body: Container, path: str) -> list[Fault]:
    return [] if body.image else [Fault(f"{path}.image", "image is required")]


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("container", "Pod", run, Container, validate)]
