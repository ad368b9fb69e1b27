"""The engine: runs a workflow's nodes through their templates' hooks and keeps durable state.

``NodeContext`` and ``NodeError`` are re-exported for plugins written against ``argosy.engine``
(looked up when asked for: a light engine module, such as ``selection``, loads no more).
"""

from typing import Any

__all__ = ["NodeContext", "NodeError"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from argosy.engine import context

    return getattr(context, name)
