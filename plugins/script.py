"""The ``script`` template type: ``source`` saved to a file and run by ``command``.

As in Argo, the file's path is appended to the command (unless there is no source: then the
command and args run as given), and stdout becomes ``outputs.result``.
"""

from __future__ import annotations

from argosy.plugin import Fault, NodeContext, Outcome, TemplateType, hookimpl
from argosy.plugins.container import Container, argv_for, run_process


class Script(Container):
    source: str = ""


async def run(ctx: NodeContext) -> Outcome:
    script: Script = ctx.body
    # Without a source, Argo runs the command and args as a container does: no file appended.
    source = script.source or None
    return await run_process(ctx, script, argv_for(ctx, script), script=source)


def validate(body: Script, path: str) -> list[Fault]:
    return [] if body.image else [Fault(f"{path}.image", "image is required")]


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("script", "Pod", run, Script, validate, artifacts=True)]
