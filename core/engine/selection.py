"""Which executor runs a workflow's steps: its annotation, else the engine's default."""

from __future__ import annotations

import os
from typing import Any

from argosy.errors import ArgosyError
from argosy.store import home_setting

EXECUTOR_ANNOTATION = "argosy.io/executor"
EXECUTOR_ENV = "ARGOSY_EXECUTOR"  # what --executor sets, for this process and its engine


def configured_executor() -> str:
    """The default executor: ``$ARGOSY_EXECUTOR`` (``--executor``), else ``executor:`` in
    ``$ARGOSY_HOME/config.yaml``, else ``local``."""
    name = os.environ.get(EXECUTOR_ENV) or home_setting("executor")
    if name is not None and not isinstance(name, str):
        raise ArgosyError(f"config.yaml: executor: expected a name such as local, not {name!r}")
    return name or "local"


def executor_of(manifest: dict[str, Any], default: str) -> str:
    """The executor a workflow asks for with its annotation, else ``default``."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return annotations.get(EXECUTOR_ANNOTATION) or default
