"""``%%argosy``: submit the Workflow YAML in a cell.

    %load_ext argosy.jupyter_ext

    %%argosy -p message=hi --wait
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    ...

Options: ``-p/--parameter NAME=VALUE`` (repeatable), ``--wait`` (live display until it ends),
``--timeout SECONDS``, ``--name N`` / ``--generate-name P``, ``-n/--namespace``,
``--entrypoint``, ``--client VAR`` (an :class:`argosy.Client` in the notebook; default
``Client()``). The cell's value is the :class:`~argosy.client.Workflow`, so it displays.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from argosy.api.service import name_values
from argosy.errors import ArgosyError, InvalidWorkflow

_default_client: Any = None


def default_client() -> Any:
    """The magic's client unless ``--client`` names another: ``Client()`` made on first use."""
    global _default_client
    if _default_client is None:
        from argosy.client import Client

        _default_client = Client()
    return _default_client


def _parameters(pairs: list[str]) -> dict[str, str]:
    try:
        return name_values(pairs)
    except ValueError as exc:
        raise ArgosyError(f"-p expects NAME=VALUE, got {exc.args[0]!r}") from None


@magics_class
class ArgosyMagics(Magics):
    @magic_arguments()
    @argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
              help="override a workflow parameter (repeatable)")
    @argument("--wait", action="store_true", help="wait for the workflow to finish")
    @argument("--timeout", type=float, default=None, help="seconds --wait waits at most")
    @argument("--name", default=None, help="the workflow's name")
    @argument("--generate-name", default=None, help="name prefix (generateName)")
    @argument("-n", "--namespace", default=None, help="namespace to submit to")
    @argument("--entrypoint", default=None, help="template to start from")
    @argument("--client", default=None, metavar="VAR",
              help="an argosy.Client variable of the notebook to submit through")
    @cell_magic
    def argosy(self, line: str, cell: str) -> Any:
        """Submit the cell's Workflow YAML; the cell's value is the Workflow."""
        # Shell quoting, as on the command line: -p "message=two words".
        args = ArgosyMagics.argosy.parser.parse_args(shlex.split(line))
        client = self._client(args.client)
        wf = client.submit(cell, parameters=_parameters(args.parameter), name=args.name,
                           generate_name=args.generate_name, entrypoint=args.entrypoint,
                           namespace=args.namespace)
        if args.wait:
            wf = client.wait(wf, timeout=args.timeout, display=True, transient=True)
        return wf

    def _client(self, var: str | None) -> Any:
        if var is None:
            return default_client()
        from argosy.client import Client

        found = self.shell.user_ns.get(var) if self.shell is not None else None
        if not isinstance(found, Client):
            raise ArgosyError(f"--client {var}: no argosy.Client named {var!r} in the notebook")
        return found


def _faults_only(shell: Any, etype: type, value: BaseException, tb: Any,
                 tb_offset: int | None = None) -> Any:
    # A rejected manifest is the user's input, not a bug: its faults are the whole story.
    shell.showtraceback((etype, value, tb), exception_only=True)


def register(ipython: Any) -> None:
    ipython.register_magics(ArgosyMagics)
    ipython.set_custom_exc((InvalidWorkflow,), _faults_only)
