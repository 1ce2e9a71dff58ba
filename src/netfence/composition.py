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
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import ConfigError

from netfence.cli import context as cli_context
from netfence.cli import main as cli_main
from netfence.controller import probes
from netfence.controller.cached_views import (
    CachedViews,
    InventoryMemo,
    SettlingChanges,
)
from netfence.controller.metrics import ControllerMetrics
from netfence.controller.running import Controller, ControllerSettings
from netfence.controller.shared_cache import SharedCache
from netfence.controller.supervising import ChildProcess
from netfence.core import errors, naming, suggestions
from netfence.core.visibility import Visibility
from netfence.kube import connecting
from netfence.kube.authorizing import KubeAuthorizer, KubeIdentity, RememberedAnswers
from netfence.kube.changes import KubeChanges
from netfence.kube.reading import LiveReader
from netfence.localcluster import (
    ControlPlane,
    dataplane,
    is_running,
    lab,
    load,
)
from netfence.localcluster import cluster as local_cluster
from netfence.localcluster import demo as demo_objects
from netfence.localcluster.enforcer import VERSION as ENFORCER_VERSION
from netfence.localcluster.probing import NodeAgentProber
from netfence.usecases.kept import Kept
from netfence.usecases.ports import Cluster, Prober
from netfence.usecases.visibility import visibility_of
from netfence.web.registry import ClusterInfo, ClusterRegistry
from netfence.web.settings import LOOPBACK_HOSTS, AuthMode, WebSettings, hosts_for

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

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
    rights than the person calling it. Tokens are kept only as the key's hash here.

    With `shared_cache`, reads are answered from one watch cache the server's own account
    fills (`controller.shared_cache`), filtered per caller by what Kubernetes lets that
    caller list (`controller.cached_views`); writes still go out with the caller's own
    client. Without it, every read goes to the API server with the caller's client.
    """

    def __init__(
        self,
        config: KubeConfig | SingleConfig,
        *,
        netfence_namespace: str,
        auth: AuthMode,
        max_clients: int = 256,
        prober: Prober | None = None,
        shared_cache: bool = True,
        visibility_seconds: float = 10.0,
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
        self._shared = shared_cache
        self._cache_client: AsyncClient | None = None
        self._cache: SharedCache | None = None
        self._memo = InventoryMemo()
        # Each caller's, asked of the cluster at most once per `visibility_seconds`, keyed
        # by a hash of their credentials, never the credentials themselves.
        self._visibilities: Kept[Visibility] = Kept(seconds=visibility_seconds)
        self._answers = RememberedAnswers(visibility_seconds)

    async def start(self) -> None:
        """Start filling the shared cache (when there is one); requests wait for it."""
        self._start_cache()

    def _start_cache(self) -> None:
        """In the event loop: a cluster opened for the first time starts its cache here."""
        if self._shared and self._cache is None:
            # The server's own account: the kubeconfig's user, or the pod's ServiceAccount.
            self._cache_client = connecting.make_client(self._config)
            self._cache = SharedCache(
                self._cache_client, netfence_namespace=self._netfence_namespace
            )
            self._cache.start()

    def ready(self) -> tuple[str, ...]:
        """What the server still waits for before it can answer: kinds not yet listed."""
        return self._cache.unsynced() if self._cache is not None else ()

    def _key(self, token: str | None) -> str:
        return "" if token is None else hashlib.sha256(token.encode()).hexdigest()

    def _client(self, token: str | None) -> AsyncClient:
        if token is None:
            if self._auth is not AuthMode.LOCAL:
                raise errors.Unauthenticated("not signed in")
            if self._local is None:
                self._local = connecting.make_client(self._config)
            return self._local
        key = self._key(token)
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
        client = self._client(token)
        found = cluster_for(client, netfence_namespace=self._netfence_namespace)
        if token is None and self._prober is not None:
            found = dataclasses.replace(found, prober=self._prober)
        self._start_cache()
        key = self._key(token)
        # Every view asks the same questions; a caller without a session (a proxy's
        # bearer token, a script) would otherwise ask the API server on every request.
        found = dataclasses.replace(
            found, authorizer=self._answers.authorizer(key, found.authorizer)
        )
        cache = self._cache
        if cache is None:
            return found
        authorizer = KubeAuthorizer(client)
        identity = KubeIdentity(client)

        async def ask() -> Visibility:
            return await visibility_of(
                authorizer,
                authorizer,
                identity,
                cache,
                netfence_namespace=self._netfence_namespace,
            )

        views = CachedViews(
            cache, lambda: self._visibilities.get(key, ask), self._memo, found.reader
        )
        return dataclasses.replace(
            found,
            reader=views,
            feed=views,
            changes=SettlingChanges(found.changes, cache),
        )

    async def close(self) -> None:
        if self._cache is not None:
            await self._cache.stop()
            self._cache = None
        clients = [*self._clients.values(), *self._retired]
        for extra in (self._local, self._cache_client):
            if extra is not None:
                clients.append(extra)
        for client in clients:
            await client.close()
        self._clients.clear()
        self._retired = []
        self._local = None
        self._cache_client = None


def web_app(
    config: KubeConfig | SingleConfig,
    settings: WebSettings,
    *,
    prober: Prober | None = None,
    contexts: Sequence[str] | None = None,
    default: str | None = None,
    shared_cache: bool = True,
) -> FastAPI:
    """The console and API for the kubeconfig's clusters (``contexts``, else all of its
    contexts), each caller acting as themselves and reading each cluster's shared watch
    cache through their own permissions (unless `shared_cache` is off). ``default`` (else
    the current context) is served at /api/v1/... without a cluster in the path;
    ``prober`` probes it."""
    # The web stack is imported when it is served: it is half of every other command's
    # start-up time (netfence connectivity -f, enable, attach ...).
    from netfence.web.app import create_app

    return create_app(
        settings, clusters_of(config, settings, prober, contexts, default, shared_cache)
    )


def cluster_infos(config: KubeConfig | SingleConfig) -> dict[str, ClusterInfo]:
    """Each context of the kubeconfig as the console lists it, in the kubeconfig's order
    (read from the context itself: a context whose user entry is broken is still listed,
    and fails, naming itself, when it is opened)."""
    if isinstance(config, SingleConfig):
        named = {config.context_name: (config.context, config.cluster.server)}
    else:
        named = {
            name: (context, cluster.server if cluster is not None else "")
            for name, context in config.contexts.items()
            for cluster in [config.clusters.get(context.cluster)]
        }
    return {
        name: ClusterInfo(
            name=name, server=server, user=context.user or "", namespace=context.namespace
        )
        for name, (context, server) in named.items()
    }


def clusters_of(
    config: KubeConfig | SingleConfig,
    settings: WebSettings,
    prober: Prober | None = None,
    contexts: Sequence[str] | None = None,
    default: str | None = None,
    shared_cache: bool = True,
) -> ClusterRegistry:
    """One cluster per context, each with its own Connector, built on first use."""
    infos = cluster_infos(config)
    names = list(contexts) if contexts else list(infos)
    unknown = [name for name in names if name not in infos]
    if unknown or not names:
        raise ValueError(f"the kubeconfig has no context {', '.join(unknown) or 'at all'}")
    current = config.context_name if isinstance(config, SingleConfig) else config.current_context
    chosen = next((n for n in (default, current) if n is not None and n in names), names[0])

    def connect(info: ClusterInfo) -> Connector:
        single = config if isinstance(config, SingleConfig) else config.get(context_name=info.name)
        assert single is not None  # every name is one of its contexts (checked above)
        return Connector(
            single,
            netfence_namespace=settings.netfence_namespace,
            auth=settings.auth,
            prober=prober if info.name == chosen else None,
            shared_cache=shared_cache,
            visibility_seconds=settings.permission_cache_seconds,
        )

    return ClusterRegistry([infos[n] for n in names], connect, default=chosen)


def served_contexts(
    config: KubeConfig, auth: AuthMode, context: str | None, contexts: Sequence[str]
) -> tuple[list[str], str]:
    """The contexts `netfence serve` serves and its default one (see docs/api.md).

    --context NAME alone serves that one; --contexts A,B those (NAME, else the current
    context, else the first, is the default); neither: every context in local mode, the
    current one in token mode, where a token belongs to one cluster, so one server serves
    one cluster and --contexts with more than one is refused.
    """
    known = list(config.contexts)
    for name in contexts:
        if name not in known:
            hint = suggestions.did_you_mean(name, known)
            raise errors.NotFound(
                f"--contexts names {name}, which is no context of the kubeconfig"
                f"{hint or ';'} its contexts: {', '.join(known) or 'none'}",
                field="contexts",
            )
    if contexts:
        names = list(dict.fromkeys(contexts))
    elif context is not None or auth is AuthMode.TOKEN:
        names = [context or config.current_context or known[0]]
    else:
        names = known
    if auth is AuthMode.TOKEN and len(names) > 1:
        raise errors.Refused(
            f"--auth token serves one cluster (each user signs in with a token of that "
            f"cluster), but --contexts names {len(names)}: {', '.join(names)}; run one "
            "server per cluster, each with --context NAME (or serve them all with "
            "--auth local)",
            field="contexts",
        )
    default = next((n for n in (context, config.current_context) if n in names), names[0])
    return names, default


def _probe_server(app: Any) -> uvicorn.Server:
    """uvicorn for the probe listeners: the process's signals are someone else's (the
    controller's graceful stop, or the console's own server), so it captures none.
    Imported when a controller runs, like the rest of the web stack."""
    import uvicorn

    class ProbeServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return ProbeServer(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="off")
    )


class ObservedController:
    """A controller with its /metrics, /healthz and /readyz listeners already bound, so a
    taken address fails before anything starts (the console's server included)."""

    def __init__(
        self,
        client: AsyncClient,
        settings: ControllerSettings,
        *,
        metrics_address: str | None = None,
        health_address: str | None = None,
    ) -> None:
        self.controller = Controller(client, settings, metrics=ControllerMetrics())
        self._listeners = probes.listeners(
            self.controller, self.controller.metrics.registry, metrics_address, health_address
        )

    async def run(self) -> None:
        """Serve the listeners and run the controller until cancelled."""
        servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        for sock, app in self._listeners:
            server = _probe_server(app)
            task = asyncio.create_task(server.serve(sockets=[sock]), name="probes")
            servers.append((server, task))
            host, port = sock.getsockname()[:2]
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            logger.info("serving %s on %s", ", ".join(app.paths()), where)
        try:
            await self.controller.run()
        finally:
            for server, _ in servers:
                server.should_exit = True
            await asyncio.gather(*(task for _, task in servers), return_exceptions=True)
            for sock, _ in self._listeners:
                sock.close()


async def run_controller(
    client: AsyncClient,
    settings: ControllerSettings,
    *,
    metrics_address: str | None = None,
    health_address: str | None = None,
) -> None:
    """The controller and its /metrics, /healthz and /readyz listeners, until cancelled."""
    observed = ObservedController(
        client, settings, metrics_address=metrics_address, health_address=health_address
    )
    await observed.run()


async def serve(
    config: KubeConfig | SingleConfig,
    settings: WebSettings,
    *,
    host: str,
    port: int,
    controllers: Sequence[Sequence[str]] = (),
    prober: Prober | None = None,
    shared_cache: bool = True,
    contexts: Sequence[str] | None = None,
    default: str | None = None,
) -> None:
    """The API and the console for ``contexts`` (see web_app), and each command line of
    ``controllers`` (a `netfence controller`) beside them in a process of its own
    (`controller.supervising`)."""
    import uvicorn  # imported when served, as in web_app

    server = uvicorn.Server(
        uvicorn.Config(
            web_app(
                config,
                settings,
                prober=prober,
                contexts=contexts,
                default=default,
                shared_cache=shared_cache,
            ),
            host=host,
            port=port,
            # uvicorn's records go through the CLI's handler (text or JSON, redacted),
            # not a handler of its own.
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    tasks = []
    for command in controllers:
        child = ChildProcess(command, name="controller")
        task = asyncio.create_task(child.run(), name="controller")
        task.add_done_callback(_report_crash)
        tasks.append(task)
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def controller_command(
    target: cli_context.Settings,
    *,
    log_level: str = "INFO",
    log_format: str = "text",
    metrics_address: str | None = None,
    health_address: str | None = None,
) -> list[str]:
    """`netfence controller` for the same cluster, as the console's child process."""
    command = [sys.executable, "-m", "netfence"]
    if target.kubeconfig is not None:
        command += ["--kubeconfig", str(target.kubeconfig)]
    if target.context is not None:
        command += ["--context", target.context]
    command += ["--netfence-namespace", target.netfence_namespace, "controller"]
    command += ["--log-level", log_level, "--log-format", log_format]
    if metrics_address is not None:
        command += ["--metrics-bind-address", metrics_address]
    if health_address is not None:
        command += ["--health-probe-bind-address", health_address]
    return command


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the controller stopped: %s", task.exception())


def _config(target: cli_context.Settings) -> KubeConfig:
    try:
        config = connecting.load_config(target.kubeconfig, context=target.context)
    except ConfigError as e:
        raise errors.ClusterError(
            f"cannot load a kubeconfig ({e}); pass --kubeconfig PATH or set KUBECONFIG"
        ) from e
    if target.context is not None and target.context not in config.contexts:
        known = sorted(config.contexts)
        hint = suggestions.did_you_mean(target.context, known)
        where = f" of {config.fname}" if config.fname else ""
        raise errors.NotFound(
            f"there is no context {target.context} in the kubeconfig{where}{hint or ';'} "
            f"its contexts: {', '.join(known) or 'none'} (kubectl config get-contexts)",
            field="context",
        )
    return config


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

    def namespace(self, target: cli_context.Settings) -> str:
        config = _config(target)
        try:
            single = config.get(context_name=target.context)
        except ConfigError as e:
            raise errors.ClusterError(f"cannot read the kubeconfig's context: {e}") from e
        return (single.namespace if single is not None else None) or "default"

    def contexts(self, kubeconfig: Path | None) -> list[str]:
        return sorted(connecting.load_config(kubeconfig).contexts)

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
        task = asyncio.create_task(
            run_controller(
                client,
                settings,
                metrics_address=options.metrics_address,
                health_address=options.health_address,
            ),
            name="controller",
        )
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
        config = _config(target)
        contexts, default = served_contexts(config, auth, target.context, options.contexts)
        if settings.allowed_hosts != ("*",):
            cli_context.out.print(
                f"Answering the host names {', '.join(settings.allowed_hosts)} only "
                "(--allowed-host NAME adds one).",
                markup=False,
                highlight=False,
            )
        others = [name for name in contexts if name != default]
        cli_context.out.print(
            f"Serving the cluster of context {default}"
            + (f" (default) and {', '.join(others)}" if others else "")
            + (f"; the controller runs for {default} only." if options.controller else "."),
            markup=False,
            highlight=False,
        )
        # The controller acts on the default cluster only: a console that lists clusters
        # must not start writing to each.
        home = dataclasses.replace(target, context=default) if config.contexts else target
        command = controller_command(
            home,
            log_level=options.log_level,
            log_format=options.log_format,
            metrics_address=options.metrics_address,
            health_address=options.health_address,
        )
        await serve(
            config,
            settings,
            host=options.host,
            port=options.port,
            controllers=[command] if options.controller else [],
            prober=local_prober(target.kubeconfig) if auth is AuthMode.LOCAL else None,
            shared_cache=options.watch_cache,
            contexts=contexts,
            default=default,
        )

    def start_local_cluster(self, directory: Path) -> Path:
        local = local_cluster.up(
            directory, progress=lambda line: cli_context.out.print(line, markup=False)
        )
        cli_context.out.print(f"Control plane ready at {local.control_plane.server}", markup=False)
        if local.dataplane is not None:
            cli_context.out.print(
                f"Dataplane ready: node {local.dataplane.node_name}, NetworkPolicy enforced "
                f"by kube-network-policies {ENFORCER_VERSION} ({local.dataplane.enforcer_mode})",
                markup=False,
            )
        else:
            cli_context.out.print(
                f"Started without the dataplane ({local.without_dataplane}): pods stay "
                "Pending and nothing enforces NetworkPolicy.",
                markup=False,
                style="yellow",
            )
        return local.control_plane.kubeconfig.resolve()

    async def prove_demo(
        self, kubeconfig: Path, directory: Path
    ) -> list[demo_objects.Outcome] | None:
        if not local_cluster.dataplane_running(directory):
            return None
        client = connecting.client_for(kubeconfig)
        try:
            return await demo_objects.prove_until(
                client, local_cluster.dataplane_directory(directory)
            )
        finally:
            await client.close()

    async def seed_demo(self, kubeconfig: Path) -> int:
        client = connecting.client_for(kubeconfig)
        try:
            return await demo_objects.seed(
                client, netfence_namespace=naming.DEFAULT_NETFENCE_NAMESPACE
            )
        finally:
            await client.close()

    async def start_second_cluster(self, directory: Path) -> Path:
        """The demo's second cluster (control plane only) in DIR/clusters/prod, seeded with
        its smaller application; a kubeconfig naming both clusters (dev, the first and
        current context, and prod)."""
        first = load(directory)
        second = await asyncio.to_thread(
            local_cluster.up_peer, directory, demo_objects.SECOND_CLUSTER
        )
        client = connecting.client_for(second.kubeconfig)
        try:
            await demo_objects.seed(
                client,
                netfence_namespace=naming.DEFAULT_NETFENCE_NAMESPACE,
                objects=demo_objects.second_cluster_manifests(naming.DEFAULT_NETFENCE_NAMESPACE),
            )
        finally:
            await client.close()
        return local_cluster.write_clusters_kubeconfig(
            directory, {"dev": first, demo_objects.SECOND_CLUSTER: second}
        )

    async def serve_demo(self, kubeconfig: Path, port: int, clusters: Path | None = None) -> None:
        """The console for ``clusters`` (a kubeconfig of several, else ``kubeconfig``'s
        one), probing through the first cluster's dataplane, and a controller for each
        cluster, each in its own process: in the demo every cluster is the demo's own."""
        settings = WebSettings(allowed_hosts=LOOPBACK_HOSTS)
        path = clusters or kubeconfig
        config = connecting.load_config(path)
        names: list[str | None] = [*config.contexts] or [None]
        commands = [
            controller_command(
                cli_context.Settings(
                    kubeconfig=path,
                    context=name,
                    netfence_namespace=naming.DEFAULT_NETFENCE_NAMESPACE,
                    runtime=self,
                ),
                # One /metrics listener on the machine: the first cluster's.
                metrics_address=None if index == 0 else "0",
            )
            for index, name in enumerate(
                sorted(names, key=lambda n: n != config.current_context)  # current first
            )
        ]
        await serve(
            config,
            settings,
            host="127.0.0.1",
            port=port,
            controllers=commands,
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
    cli_main.build(Runtime())(prog_name=cli_main.program_name())
