"""The engine's names in one module, where callers have always imported them.

The engine itself is split by responsibility: :mod:`argosy.engine.controller` (the ``Engine``:
leases, scheduling workflows), :mod:`argosy.engine.workflow` (``WorkflowRun``, composed of
:mod:`~argosy.engine.lifecycle`, :mod:`~argosy.engine.actions`,
:mod:`~argosy.engine.templates`, :mod:`~argosy.engine.nodes` and
:mod:`~argosy.engine.outputs`) and :mod:`argosy.engine.context` (the node API plugins get).
"""

from argosy.engine.context import NodeContext, NodeError
from argosy.engine.controller import LEASE_SECONDS, Busy, Engine
from argosy.engine.nodes import fnv32a, node_id
from argosy.engine.workflow import Listener, WorkflowRun
from argosy.expr.substitute import MISSING

__all__ = ["LEASE_SECONDS", "MISSING", "Busy", "Engine", "Listener", "NodeContext", "NodeError",
           "WorkflowRun", "fnv32a", "node_id"]
