"""Which executor runs a workflow's steps: its annotation, else the engine's default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from argosy.registry import Registry

EXECUTOR_ANNOTATION = "argosy.io/executor"
EXECUTOR_ENV = "ARGOSY_EXECUTOR"  # what --executor sets, for this process and its engine


def configured_executor(registry: Registry | None = None, home: Path | None = None) -> str:
    """The default executor: ``$ARGOSY_EXECUTOR`` (``--executor``), else ``executor:`` in
    ``$ARGOSY_HOME/config.yaml``, else ``local``."""
    from argosy.registry import default_registry

    return os.environ.get(EXECUTOR_ENV) or (registry or default_registry()).executor_name(home)


def executor_of(manifest: dict[str, Any], default: str) -> str:
    """The executor a workflow asks for with its annotation, else ``default``."""
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return annotations.get(EXECUTOR_ANNOTATION) or default
