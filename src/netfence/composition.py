"""The composition root: the one module that wires settings, clients, adapters, the
controller, the web app and the CLI together.

Entry points (`netfence.cli`, `netfence.web`) know only the use cases and their ports;
adapters (`netfence.kube`, `netfence.controller`) know only the ports. This module is the
only one that sees both sides: it builds a `Cluster` of adapters for a client, hands the
web app a connector that makes one per caller, and gives the CLI a runtime that opens
clusters, runs the controller, serves the console and starts the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import signal
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ConfigError

from netfence.cli import context as cli_context
from netfence.cli import main as cli_main
from netfence.controller.running import ControllerSettings, run_controller
from netfence.core import errors, naming
from netfence.kube import connecting
from netfence.kube.authorizing import KubeAuthorizer, KubeIdentity
from netfence.kube.changes import KubeChanges
from netfence.kube.reading import LiveReader
from netfence.localcluster import (
    ControlPlane,
    dataplane,
    ensure_binary,
    is_running,
    lab,
    load,
    needs_build,
    start,
)
from netfence.localcluster import demo as demo_objects
from netfence.localcluster.probing import NodeAgentProber
from netfence.usecases.ports import Cluster, Prober
from netfence.web.app import create_app
from netfence.web.settings import LOOPBACK_HOSTS, AuthMode, WebSettings, hosts_for

logger = logging.getLogger(__name__)


def cluster_for(client: AsyncClient, *, netfence_namespace: str) -> Cluster:
    """Every port a person's use case needs, acting with this client's credentials."""
    return Cluster(
        reader=LiveReader(client, netfence_namespace=netfence_namespace),
        changes=KubeChanges(client, netfence_namespace=netfence_namespace),
        authorizer=KubeAuthorizer(client),
        identity=KubeIdentity(client),
        netfence_namespace=netfence_namespace,
    )


def local_prober(kubeconfig: Path | None) -> NodeAgentProber | None:
    """The node agent's probes when `kubeconfig` is the local control plane's own
    (DIR/kubeconfig) and a dataplane runs for it; None for any other cluster."""
    if kubeconfig is None:
        return None
    directory = kubeconfig.resolve().parent
    if not is_running(directory):
        return None
    found = dataplane.running_for(directory)
    return NodeAgentProber(found) if found else None


class Connector:
    """Clusters for the web app's callers: the kubeconfig's own credentials in local mode,
    else one client per bearer token (same server and CA), so the API never holds more
    rights than the person calling it. Tokens are kept only as the key's hash here."""

    def __init__(
        self,
        config: KubeConfig | SingleConfig,
        *,
        netfence_namespace: str,
        auth: AuthMode,
        max_clients: int = 256,
        prober: Prober | None = None,
    ) -> None:
        self._config = config
        # Probes from inside pods, for the kubeconfig's own user only (local mode): they
        # run through the node agent, not with a caller's credentials.
        self._prober = prober
        self._netfence_namespace = netfence_namespace
        self._auth = auth
        self._max_clients = max_clients
        self._clients: OrderedDict[str, AsyncClient] = OrderedDict()
        self._local: AsyncClient | None = None
        # Clients evicted from the cache are closed at shutdown, not while in use.
        self._retired: list[AsyncClient] = []

    def _client(self, token: str | None) -> AsyncClient:
        if token is None:
            if self._auth is not AuthMode.LOCAL:
                raise errors.Unauthenticated("not signed in")
            if self._local is None:
                self._local = connecting.make_client(self._config)
            return self._local
        key = hashlib.sha256(token.encode()).hexdigest()
        client = self._clients.get(key)
        if client is None:
            client = connecting.make_client(connecting.with_token(self._config, token))
            self._clients[key] = client
            if len(self._clients) > self._max_clients:
                _, old = self._clients.popitem(last=False)
                self._retired.append(old)
        else:
            self._clients.move_to_end(key)
        return client

    def cluster(self, token: str | None) -> Cluster:
        found = cluster_for(self._client(token), netfence_namespace=self._netfence_namespace)
        if token is None and self._prober is not None:
            return dataclasses.replace(found, prober=self._prober)
        return found

    async def close(self) -> None:
        clients = [*self._clients.values(), *self._retired]
        if self._local is not None:
            clients.append(self._local)
        for client in clients:
            await client.close()
        self._clients.clear()
        self._retired = []
        self._local = None


def web_app(
    config: KubeConfig | SingleConfig, settings: WebSettings, *, prober: Prober | None = None
) -> FastAPI:
    """The console and API for one cluster, each caller acting as themselves."""
    connector = Connector(
        config, netfence_namespace=settings.netfence_namespace, auth=settings.auth, prober=prober
    )
    return create_app(settings, connector)


async def serve(
    config: KubeConfig | SingleConfig,
    settings: WebSettings,
    *,
    host: str,
    port: int,
    controller: bool,
    prober: Prober | None = None,
) -> None:
    """The API, the console and (unless told not to) the controller, one process."""
    server = uvicorn.Server(
        uvicorn.Config(
            web_app(config, settings, prober=prober),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    client = connecting.make_client(config) if controller else None
    task = None
    if client is not None:
        task = asyncio.create_task(
            run_controller(
                client, ControllerSettings(netfence_namespace=settings.netfence_namespace)
            ),
            name="controller",
        )
        task.add_done_callback(_report_crash)
    try:
        await server.serve()
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if client is not None:
            await client.close()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the controller stopped: %s", task.exception())


def _config(target: cli_context.Settings) -> KubeConfig:
    try:
        return connecting.load_config(target.kubeconfig, context=target.context)
    except ConfigError as e:
        raise errors.ClusterError(
            f"cannot load a kubeconfig ({e}); pass --kubeconfig PATH or set KUBECONFIG"
        ) from e


class Runtime:
    """What the CLI's commands need from outside the entry point (`cli.context.Runtime`)."""

    @contextlib.asynccontextmanager
    async def cluster(self, target: cli_context.Settings) -> AsyncIterator[Cluster]:
        client = connecting.make_client(_config(target), context=target.context)
        try:
            found = cluster_for(client, netfence_namespace=target.netfence_namespace)
            yield dataclasses.replace(found, prober=local_prober(target.kubeconfig))
        finally:
            await client.close()

    async def run_controller(
        self, target: cli_context.Settings, options: cli_context.ControllerOptions
    ) -> None:
        """Run until SIGINT or SIGTERM; either stops it gracefully, releasing the Lease so
        another replica takes over at once (a pod is stopped with SIGTERM)."""
        client = connecting.make_client(_config(target), context=target.context)
        settings = ControllerSettings(
            netfence_namespace=target.netfence_namespace,
            workers=options.workers,
            lease_seconds=options.lease_seconds,
            renew_seconds=options.renew_seconds,
        )
        task = asyncio.create_task(run_controller(client, settings), name="controller")
        loop = asyncio.get_running_loop()
        for stop in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop, task.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            for stop in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(stop)
            await client.close()

    async def serve(self, target: cli_context.Settings, options: cli_context.ServeOptions) -> None:
        auth = AuthMode(options.auth)
        settings = WebSettings(
            auth=auth,
            netfence_namespace=target.netfence_namespace,
            secure_cookies=options.secure_cookies,
            allowed_hosts=hosts_for(options.host, auth, options.allowed_hosts),
        )
        if settings.allowed_hosts != ("*",):
            cli_context.out.print(
                f"Answering the host names {', '.join(settings.allowed_hosts)} only "
                "(--allowed-host NAME adds one).",
                markup=False,
                highlight=False,
            )
        await serve(
            _config(target),
            settings,
            host=options.host,
            port=options.port,
            controller=options.controller,
            prober=local_prober(target.kubeconfig) if auth is AuthMode.LOCAL else None,
        )

    def start_local_cluster(self, directory: Path) -> Path:
        if needs_build():
            cli_context.out.print(
                "Building the local control plane (first time only: a few minutes)..."
            )
            ensure_binary()
        cp = start(directory)
        cli_context.out.print(f"Control plane ready at {cp.server}")
        return cp.kubeconfig.resolve()

    async def seed_demo(self, kubeconfig: Path) -> int:
        client = connecting.client_for(kubeconfig)
        try:
            return await demo_objects.seed(
                client, netfence_namespace=naming.DEFAULT_NETFENCE_NAMESPACE
            )
        finally:
            await client.close()

    async def serve_demo(self, kubeconfig: Path, port: int) -> None:
        settings = WebSettings(allowed_hosts=LOOPBACK_HOSTS)
        config = connecting.load_config(kubeconfig)
        await serve(
            config,
            settings,
            host="127.0.0.1",
            port=port,
            controller=True,
            prober=local_prober(kubeconfig),
        )

    def lab_up(self, directory: Path, documents: list[object]) -> cli_context.LabSummary:
        control_plane = _local_control_plane(directory)
        try:
            made = lab.up(control_plane, documents)
        except (lab.LabError, dataplane.DataplaneError) as e:
            raise errors.Unavailable(str(e)) from e
        return cli_context.LabSummary(
            plan=made.plan,
            pods=made.pods,
            seconds=made.seconds,
            node=made.node.node_name,
            pod_cidr=made.node.pod_cidr,
            kubeconfig=control_plane.kubeconfig.resolve(),
        )

    def lab_down(self, directory: Path) -> int:
        try:
            return lab.down(_local_control_plane(directory))
        except dataplane.DataplaneError as e:
            raise errors.Unavailable(str(e)) from e


def _local_control_plane(directory: Path) -> ControlPlane:
    if not is_running(directory):
        raise errors.Unavailable(
            f"no local control plane runs from {directory}: start it with netfence controlplane up"
        )
    return load(directory)


def main() -> None:
    cli_main.build(Runtime())()
