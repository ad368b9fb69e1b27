"""The Jupyter server extension: configuration, the backend it serves, its life with the server.

Configure with traitlets (``jupyter_server_config.py`` or ``--ArgosyConfig.run_engine=False``):

- ``ArgosyConfig.home``: the local store (default ``$ARGOSY_HOME``, else ``~/.argosy``: the one
  the CLI uses, so ``argosy list`` in a terminal sees notebook-submitted workflows);
- ``ArgosyConfig.run_engine``: execute workflows in the Jupyter server's process (default); off,
  a background ``argosy engine`` is started on submit as the CLI does;
- ``ArgosyConfig.remote_url`` / ``remote_token``: forward every request to an ``argosy server``
  instead of using a local store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Integer, Unicode
from traitlets.config import Configurable

from argosy import __version__
from argosy.jupyter_ext.handlers import local_handlers, remote_handlers, unavailable_handlers


class ArgosyConfig(Configurable):
    """Where the ``/argosy/api/v1`` routes get their workflows from."""

    home = Unicode("", config=True,
                   help="argosy home of the local store (default: $ARGOSY_HOME, else ~/.argosy)")
    run_engine = Bool(True, config=True,
                      help="Execute workflows inside the Jupyter server process")
    parallelism = Integer(None, allow_none=True, config=True,
                          help="Most workflows the in-process engine runs at once")
    namespace_parallelism = Integer(None, allow_none=True, config=True,
                                    help="Most workflows of one namespace run at once")
    remote_url = Unicode("", config=True,
                         help="Forward to this argosy server (http://host:2746) instead")
    remote_token = Unicode(config=True,
                           help="Bearer token for remote_url (default: $ARGOSY_TOKEN)")

    def _remote_token_default(self) -> str:
        return os.environ.get("ARGOSY_TOKEN", "")


class LocalBackend:
    """The REST server's :class:`~argosy.api.server.Api` (service, worker thread, event hub) and,
    with ``run_engine``, an engine serving the store on the server's event loop."""

    def __init__(self, config: ArgosyConfig) -> None:
        from argosy.api.server import Api
        from argosy.api.service import WorkflowService
        from argosy.engine.run import Engine
        from argosy.registry import open_store

        store = open_store(config.home or None)
        # The engine and the service each need a SQLite connection of their own.
        engine = Engine(open_store(store.home), serving=True) if config.run_engine else None
        self.api = Api(WorkflowService(store), engine, not config.run_engine,
                       config.parallelism, config.namespace_parallelism)
        self._life: Any = None
        self._entered: asyncio.Future[Any] | None = None

    def ensure_started(self) -> None:
        """Start the event hub and engine on the running loop, once (the REST server's
        lifespan: the same tasks, stopped the same way)."""
        if self._life is None:
            self._life = self.api.lifespan(None)  # type: ignore[arg-type]
            self._entered = asyncio.ensure_future(self._life.__aenter__())

    async def stop(self) -> None:
        if self._life is None:
            return
        life, self._life = self._life, None
        assert self._entered is not None
        await self._entered
        # Cancelling serve() detaches: workflows stay Running for the next engine to adopt.
        await life.__aexit__(None, None, None)


class RemoteBackend:
    """An HTTP client for the ``argosy server`` the routes forward to."""

    def __init__(self, config: ArgosyConfig) -> None:
        import httpx

        url = config.remote_url if "://" in config.remote_url else f"http://{config.remote_url}"
        self.url = url.rstrip("/")
        token = config.remote_token
        headers = {}
        if token:
            headers["Authorization"] = token if " " in token else f"Bearer {token}"
        # No read timeout: event streams and followed logs stay open.
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers,
                                      timeout=httpx.Timeout(30.0, read=None))

    def ensure_started(self) -> None:
        return

    async def stop(self) -> None:
        await self.http.aclose()


class UnavailableBackend:
    """The local store cannot be used (a damaged file): the routes answer why, and the
    Jupyter server runs on without argosy."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def ensure_started(self) -> None:
        return

    async def stop(self) -> None:
        return


class ArgosyExtension(ExtensionApp):
    """argosy's REST API under ``/argosy/api/v1``, behind Jupyter's authentication."""

    name = "argosy"
    version = __version__
    load_other_extensions = True
    classes = [ArgosyConfig]

    backend: LocalBackend | RemoteBackend | UnavailableBackend | None = None

    def initialize_settings(self) -> None:
        config = ArgosyConfig(parent=self)
        if config.remote_url:
            self.backend = RemoteBackend(config)
            self.log.info("argosy: forwarding /argosy/api to %s", self.backend.url)
        else:
            from argosy.store import StoreError

            try:
                self.backend = LocalBackend(config)
            except StoreError as exc:
                self.log.error("argosy: %s", exc)
                self.backend = UnavailableBackend(str(exc))
                return
            store = self.backend.api.service.store
            self.log.info("argosy: store %s, engine %s", store.home,
                          "in this process" if config.run_engine else "started on submit")

    def initialize_handlers(self) -> None:
        assert self.backend is not None
        make = {RemoteBackend: remote_handlers, UnavailableBackend: unavailable_handlers}.get(
            type(self.backend), local_handlers)
        self.handlers.extend(make(self.backend))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        if self.backend is not None:
            self.backend.ensure_started()

    async def stop_extension(self) -> None:
        if self.backend is not None:
            with contextlib.suppress(Exception):
                await self.backend.stop()
