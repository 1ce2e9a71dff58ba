"""/healthz, /readyz and /metrics: how kubelet, Prometheus and people watch a controller.

- `/healthz` answers 200 while the process's event loop turns: being answered at all is
  the check (it is served by the same loop as the controller). It never looks at the API
  server, so an API server outage does not make kubelet restart every replica.
- `/readyz` answers 200 once every informer cache has synced and the API server answers
  the controller's own requests (its watches, its Lease), else 503; the JSON body says
  which check fails and whether this replica leads. A follower is ready: it serves
  metrics and takes over the moment the leader goes.
- `/metrics` is prometheus_client's own exposition (text or OpenMetrics, gzip).

The app is plain ASGI, so the controller package needs no web framework. `listeners`
binds the sockets for --metrics-bind-address and --health-probe-bind-address
(controller-runtime's names) before anything starts; the composition root serves the app
on them with uvicorn.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lightkube import ApiError
from prometheus_client import CollectorRegistry, make_asgi_app

from netfence.core import errors

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_ADDRESS = "127.0.0.1:9090"
DISABLED = "0"


def parse_address(text: str, *, option: str) -> tuple[str, int] | None:
    """`HOST:PORT`, `:PORT` (every interface) or `[::1]:PORT`; None for "0" (disabled)."""
    text = text.strip()
    if text == DISABLED:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{option} {text!r} is not an address: give HOST:PORT (127.0.0.1:9090), "
            f":PORT for every interface, or 0 to serve nothing"
        )
    host = host.removeprefix("[").removesuffix("]")
    return host, int(port)


def reaches_server(error: BaseException) -> bool:
    """True when the API server answered, even with an error: a 4xx is an answer, a 5xx
    (an API server shutting down, an unready etcd) or a connection error is not."""
    return isinstance(error, ApiError) and (error.status.code or 0) < 500


@dataclass(slots=True)
class ApiContact:
    """Whether the API server answers the controller's own requests, per source (each
    informer, the Lease). A source is failing from its first unanswered request until
    its next answered one, so readiness follows the real traffic, not a synthetic ping."""

    _failing: dict[str, str] = field(default_factory=dict)

    def answered(self, source: str) -> None:
        self._failing.pop(source, None)

    def failed(self, source: str, error: BaseException) -> None:
        if reaches_server(error):
            self.answered(source)
        else:
            self._failing[source] = (
                f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            )

    def failing(self) -> dict[str, str]:
        return dict(self._failing)


@dataclass(frozen=True, slots=True)
class Status:
    identity: str
    leader: bool
    # Informers that have not listed their objects yet, by resource.
    unsynced: tuple[str, ...]
    # Sources whose last request the API server did not answer, with the error.
    unanswered: dict[str, str]

    @property
    def ready(self) -> bool:
        return not self.unsynced and not self.unanswered

    def body(self) -> dict[str, Any]:
        caches = "synced" if not self.unsynced else f"not synced yet: {', '.join(self.unsynced)}"
        api = "ok"
        if self.unanswered:
            # Every watch fails the same way when the API server is gone: say it once.
            sources: dict[str, list[str]] = {}
            for source, error in sorted(self.unanswered.items()):
                sources.setdefault(error, []).append(source)
            api = "no answer: " + "; ".join(
                f"{error} ({', '.join(names)})" for error, names in sources.items()
            )
        return {
            "ready": self.ready,
            "leader": self.leader,
            "identity": self.identity,
            "checks": {"caches": caches, "apiserver": api},
        }


class StatusSource(Protocol):
    def status(self) -> Status: ...


def _listen(address: tuple[str, int], *, option: str, lenient: bool) -> socket.socket | None:
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # `:PORT` means every interface: IPv6 and IPv4 both where the host can (dual-stack and
    # IPv6-only clusters probe the pod's IPv6 address).
    dual = not host and socket.has_dualstack_ipv6()
    if dual:
        family, host = socket.AF_INET6, "::"
    # IPPROTO_TCP named explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets
    # that say they are TCP, and with Nagle on a kept-alive scrape waits 40 ms for the
    # client's delayed ACK between the response's head and body.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dual:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(128)
        return sock
    except OSError as e:
        sock.close()
        where = f"{'*' if dual or not host else host}:{port}"
        why = "address in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        if lenient:
            logger.warning(
                "not serving metrics and health probes: cannot listen on %s (%s); pass "
                "%s HOST:PORT, or 0 for none",
                where,
                why,
                option,
            )
            return None
        raise errors.NetfenceError(
            f"cannot listen on {where} ({why}): {option} must name a free address, or 0 for none"
        ) from e


def listeners(
    source: StatusSource,
    registry: CollectorRegistry,
    metrics_address: str | None,
    health_address: str | None,
) -> list[tuple[socket.socket, ProbeApp]]:
    """Bound sockets and what each serves: one listener for /metrics, /healthz and
    /readyz by default, or two when the addresses differ. Bound before the controller
    starts, so a taken address fails at once."""
    metrics_option, health_option = "--metrics-bind-address", "--health-probe-bind-address"
    metrics = parse_address(metrics_address or DEFAULT_ADDRESS, option=metrics_option)
    health = (
        metrics if health_address is None else parse_address(health_address, option=health_option)
    )
    wanted: list[tuple[tuple[str, int], str, ProbeApp]] = []
    if metrics is not None and metrics == health:
        wanted.append((metrics, metrics_option, ProbeApp(source, registry)))
    else:
        if metrics is not None:
            wanted.append((metrics, metrics_option, ProbeApp(source, registry, health=False)))
        if health is not None:
            wanted.append((health, health_option, ProbeApp(source, None)))
    lenient = metrics_address is None and health_address is None
    bound: list[tuple[socket.socket, ProbeApp]] = []
    try:
        for address, option, app in wanted:
            sock = _listen(address, option=option, lenient=lenient)
            if sock is not None:
                bound.append((sock, app))
    except BaseException:
        for sock, _ in bound:
            sock.close()
        raise
    return bound


class ProbeApp:
    """The ASGI app; `health` and `metrics` choose what this listener serves (one port
    serves both by default, or each has its own)."""

    def __init__(
        self,
        source: StatusSource,
        registry: CollectorRegistry | None,
        *,
        health: bool = True,
    ) -> None:
        self._source = source
        self._health = health
        self._metrics = make_asgi_app(registry) if registry is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        if self._metrics is not None and path == "/metrics":
            await self._metrics(scope, receive, send)
        elif self._health and path in ("/healthz", "/livez"):
            await _json(send, 200, {"status": "ok"})
        elif self._health and path == "/readyz":
            status = self._source.status()
            await _json(send, 200 if status.ready else 503, status.body())
        else:
            await _json(send, 404, {"status": "not found", "paths": self.paths()})

    def paths(self) -> list[str]:
        paths = ["/healthz", "/readyz"] if self._health else []
        return [*paths, "/metrics"] if self._metrics is not None else paths


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
