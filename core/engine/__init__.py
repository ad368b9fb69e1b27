"""The engine: runs a workflow's nodes through their templates' hooks and keeps durable state.

``NodeContext`` and ``NodeError`` are re-exported for plugins written against ``argosy.engine``.
"""

from argosy.engine.context import NodeContext, NodeError

__all__ = ["NodeContext", "NodeError"]
