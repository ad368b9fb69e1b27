"""The ``notebook`` template type: run a Jupyter notebook as a workflow step, with papermill.

Needs the ``notebook`` extra (``pip install 'argosy[notebook]'``, which brings papermill)::

    - name: train
      inputs:
        parameters: [{name: epochs, value: "3"}]
      notebook:
        path: notebooks/train.ipynb   # relative: to the engine's working directory
        parameters: {lr: 0.01}        # optional: extra papermill parameters, YAML-typed
        kernel: python3               # optional: default, the notebook's own kernelspec
      outputs:
        parameters:
        - name: accuracy
          valueFrom: {path: /tmp/accuracy.txt}

What a node does, in Argo's terms:

* **Parameters**: every ``inputs.parameters`` value becomes a papermill parameter of the same
  name, typed as papermill's ``-p`` types command-line values (``3`` -> int, ``0.5`` -> float,
  ``True``/``False``/``None``, anything else a string); ``notebook.parameters`` are added over
  them with their YAML types. papermill injects them after the cell tagged ``parameters``.
* **Where it runs**: as a process of the selected executor, like a ``script`` (the notebook is
  shipped to it as the script is). With the ``local`` executor the kernel works in the node's
  private ``/tmp``, so files it writes there (or with relative paths) are the node's own and
  ``outputs.parameters[].valueFrom.path`` reads them, as for a container. Cancelling the node
  (stop, terminate, a deadline) ends the process and its kernel; the engine never blocks on it.
* **Result and log**: what the cells print to stdout is ``outputs.result`` (as a script's
  stdout is); stdout and stderr together are the node's log (``argosy logs``).
* **The executed notebook**, with every cell's outputs, is the node's output artifact
  ``notebook``, kept in the store until the workflow is deleted: ``argosy cp WORKFLOW DIR
  --artifact-name notebook``, ``GET /artifacts/{namespace}/{workflow}/{node id}/notebook``,
  ``Client.artifact(...)``, or :func:`executed_notebook` (store, workflow uid, node id).
* **Failure**: a cell that raises fails the node with ``notebook cell [N] raised <Error>:
  <message>`` (N is the cell's execution count in the executed notebook); the traceback is in the
  log and in the executed notebook.

Relative ``path``\\ s resolve against the engine's working directory: where ``argosy run`` was
started, the Jupyter server's root for the Jupyter extension. Pass an absolute path, or a
workflow parameter, for workflows submitted from elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import posixpath
import sys
from pathlib import Path
from typing import Any

from argosy.plugin import (
    ArgoModel,
    Fault,
    NodeContext,
    NodeError,
    Outcome,
    ProcessRequest,
    Store,
    TemplateType,
    hookimpl,
)

#: Relative to the process's working directory (the node's private /tmp with `local`).
EXECUTED = ".argosy/notebook.ipynb"
ARTIFACT = "notebook"  # the executed notebook, as the node's output artifact
ERROR = ".argosy/notebook-error.json"
RUNTIME_DIR = ".argosy/jupyter"
DEFAULT_KERNEL = "python3"


class Notebook(ArgoModel):
    path: str
    parameters: dict[str, Any] | None = None
    kernel: str | None = None


# ---- the node (in the engine) -------------------------------------------------------------


async def run(ctx: NodeContext) -> Outcome:
    body: Notebook = ctx.body
    if importlib.util.find_spec("papermill") is None:
        raise NodeError("the notebook template type needs papermill: "
                        "pip install 'argosy[notebook]'")
    source = _read_notebook(body.path)
    params = _input_parameters(ctx)
    params.update(body.parameters or {})
    argv = [sys.executable, "-P", "-m", "argosy.plugins.notebook",
            json.dumps({"parameters": params, "kernel": body.kernel, "name": body.path})]
    request = ProcessRequest(argv=argv, env={}, working_dir=None, node_dir=ctx.node_dir,
                             script=source, template=ctx.raw)
    outcome = await ctx.executor.run_process(request)
    read = outcome.read_file or (lambda _path: None)
    executed = read(EXECUTED)
    if executed is not None:
        outcome.artifacts[ARTIFACT] = (posixpath.join(request.working_dir or "/tmp", EXECUTED),
                                       executed.encode())
    if outcome.phase == "Failed":
        outcome.message = _failure(read(ERROR)) or outcome.message
    return outcome


def _read_notebook(path: str) -> str:
    file = Path(path).expanduser()
    try:
        return file.read_text()
    except FileNotFoundError:
        raise NodeError(f"notebook {path}: no such file (relative paths are to "
                        f"{os.getcwd()})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NodeError(f"notebook {path}: cannot read: {exc}") from None


def _input_parameters(ctx: NodeContext) -> dict[str, Any]:
    """The node's resolved inputs, as papermill parameters."""
    params = (ctx.node.inputs or {}).get("parameters", [])
    return {p["name"]: typed(p.get("value")) for p in params if p.get("value") is not None}


def typed(value: Any) -> Any:
    """A parameter string as papermill's ``-p`` reads it: bool, None, int, float or str."""
    if not isinstance(value, str):
        return value
    if value in ("True", "False"):
        return value == "True"
    if value == "None":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _failure(recorded: str | None) -> str | None:
    """The node's message from what the runner recorded about the failure."""
    if not recorded:
        return None
    try:
        error = json.loads(recorded)
    except ValueError:
        return None
    if error.get("ename"):
        return (f"notebook cell [{error.get('execution_count')}] raised {error['ename']}: "
                f"{error.get('evalue', '')}")
    return error.get("message")


def executed_notebook(store: Store, uid: str, node_id: str) -> str | None:
    """The executed notebook (JSON text) a notebook node left, or None."""
    found = store.artifact(uid, node_id, ARTIFACT)
    return None if found is None else found[1].decode()


def validate(body: Notebook, path: str) -> list[Fault]:
    faults = []
    if not body.path:
        faults.append(Fault(f"{path}.path", "path is required"))
    elif "{{" not in body.path and not body.path.endswith(".ipynb"):
        faults.append(Fault(f"{path}.path", f'"{body.path}" is not a notebook (.ipynb)'))
    return faults


@hookimpl
def argosy_template_types() -> list[TemplateType]:
    return [TemplateType("notebook", "Pod", run, Notebook, validate)]


# ---- the runner (the node's process) --------------------------------------------------------


def main(spec_json: str, notebook_file: str) -> int:
    """Execute the notebook with papermill; record a failing cell for the engine's message."""
    import logging
    import signal

    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    spec = json.loads(spec_json)
    os.makedirs(RUNTIME_DIR, exist_ok=True)
    # Connection files in the node's own directory: nothing shared with other nodes.
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.abspath(RUNTIME_DIR)
    # A stop is a SIGTERM: unwind through papermill so that it shuts its kernel down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    try:
        nb = nbformat.reads(Path(notebook_file).read_text(), as_version=4)
    except Exception as exc:
        return _record({"message": f"{spec['name']}: not a notebook: {exc}"})
    kernel = spec.get("kernel") or (nb.metadata.get("kernelspec") or {}).get("name") \
        or DEFAULT_KERNEL
    try:
        papermill.execute_notebook(nb, EXECUTED, parameters=spec["parameters"],
                                   kernel_name=kernel, progress_bar=False,
                                   stdout_file=sys.stdout, stderr_file=sys.stderr)
    except PapermillExecutionError as exc:
        print(exc, file=sys.stderr)  # the traceback, without terminal colours
        return _record({"ename": exc.ename, "evalue": exc.evalue,
                        "execution_count": exc.exec_count})
    except Exception as exc:  # no kernel, kernel died...: the node's message says which
        return _record({"message": f"{spec['name']}: {type(exc).__name__}: {exc}"})
    return 0


def _record(error: dict[str, Any]) -> int:
    Path(ERROR).write_text(json.dumps(error))
    if "message" in error:
        print(error["message"], file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
