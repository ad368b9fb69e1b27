"""argosy in Jupyter: the server extension (``/argosy/api/v1/…``), and the ``%%argosy`` magic.

The server extension is enabled by the config file installed with the package
(``etc/jupyter/jupyter_server_config.d/argosy.json``); ``%load_ext argosy.jupyter_ext`` in a
notebook adds the magic. The notebook API itself is :class:`argosy.Client`.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from argosy.jupyter_ext.app import ArgosyExtension

    return [{"module": "argosy.jupyter_ext", "app": ArgosyExtension}]


def load_ipython_extension(ipython: Any) -> None:
    from argosy.jupyter_ext.magic import register

    register(ipython)
