"""``argosy controller``: run the cluster's Workflow objects (cluster mode, see argosy.cluster)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys

import click

from argosy.cli.commands import EXIT_FAILED, _set_env, main
from argosy.store import now_rfc3339


@main.command()
@click.option("--kubeconfig", metavar="FILE", expose_value=False,
              callback=_set_env("KUBECONFIG"),
              help="The cluster (default: $KUBECONFIG, ~/.kube/config, the Pod's own).")
@click.option("--api-group", metavar="GROUP", expose_value=False,
              callback=_set_env("ARGOSY_API_GROUP"),
              help="Serve Workflows of this API group, e.g. argosy.io beside Argo's own "
                   "controller [env ARGOSY_API_GROUP; default argoproj.io].")
@click.option("-n", "--namespace", default=None,
              help="Run the Workflows of this namespace only (default: every namespace).")
@click.option("--lease-namespace", default=None,
              help="Namespace of the leader-election Lease (default: the kubeconfig "
                   "context's, or the Pod's).")
@click.option("--lease-name", default="argosy-controller", show_default=True,
              help="Name of the leader-election Lease.")
@click.option("--lease-duration", type=click.FloatRange(min=1), default=15.0,
              show_default=True, help="Seconds a leader's lease lasts without renewal.")
@click.option("--renew-deadline", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, help="Seconds the leader tries to renew before it stops.")
@click.option("--retry-period", type=click.FloatRange(min=0.05), default=2.0,
              show_default=True, help="Seconds between tries to acquire or renew the lease.")
@click.option("--status-interval", type=click.FloatRange(min=0.01), default=0.5,
              show_default=True, help="Seconds between status writes of a workflow.")
@click.option("--status-qps", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Most status writes per second, on average.")
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), default=9090,
              show_default=True, help="Serve /metrics (Prometheus) on this port; 0: not at all.")
@click.option("--metrics-host", default="0.0.0.0", show_default=True,
              help="Address /metrics listens on.")
@click.option("--id", "identity", default=None,
              help="This replica's name in the Lease (default: host name and pid).")
def controller(namespace: str | None, lease_namespace: str | None, lease_name: str,
               lease_duration: float, renew_deadline: float, retry_period: float,
               status_interval: float, status_qps: float, metrics_port: int, metrics_host: str,
               identity: str | None) -> None:
    """Run the cluster's Workflow objects, as Argo's workflow controller (leader-elected)."""
    import asyncio

    from argosy import kube
    from argosy.cluster import Controller, LeadershipLost, serve_metrics
    from argosy.registry import open_store

    if renew_deadline >= lease_duration:
        raise click.BadParameter("must be shorter than --lease-duration",
                                 param_hint="--renew-deadline")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    identity = identity or f"{socket.gethostname()}-{os.getpid()}"
    try:
        ctl = Controller(open_store(), namespace=namespace, identity=identity,
                         lease_namespace=lease_namespace or kube.current_namespace(),
                         lease_name=lease_name, lease_seconds=lease_duration,
                         renew_deadline=renew_deadline, retry_seconds=retry_period,
                         status_interval=status_interval, status_qps=status_qps)
    except kube.KubernetesUnavailable as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_FAILED)
    if metrics_port:
        try:
            serve_metrics(ctl, metrics_host, metrics_port)
        except OSError as exc:
            raise click.BadParameter(f"cannot listen on {metrics_host}:{metrics_port}: {exc}",
                                     param_hint="--metrics-port") from None
    scope = f"namespace {namespace}" if namespace else "every namespace"
    click.echo(f"{now_rfc3339()} argosy controller {identity} for {scope}", err=True)
    async def serve() -> None:
        # SIGTERM (a Pod being stopped) as Ctrl-C: statuses flushed, the lease released.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await ctl.run()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
    except LeadershipLost as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_FAILED)
