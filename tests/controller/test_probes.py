"""/healthz, /readyz and /metrics as the probe app serves them (ASGI, no cluster)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from netfence.controller import probes
from netfence.controller.metrics import ControllerMetrics, Gauges


class Source:
    """What the controller reports, set by each test."""

    def __init__(self) -> None:
        self.contact = probes.ApiContact()
        self.unsynced: tuple[str, ...] = ()
        self.leader = False

    def status(self) -> probes.Status:
        return probes.Status("replica-1", self.leader, self.unsynced, self.contact.failing())


def _client(app: probes.ProbeApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe")


def test_addresses_are_host_port_or_port_or_zero() -> None:
    option = "--metrics-bind-address"
    assert probes.parse_address("127.0.0.1:9090", option=option) == ("127.0.0.1", 9090)
    assert probes.parse_address(":8081", option=option) == ("", 8081)
    assert probes.parse_address("[::1]:9090", option=option) == ("::1", 9090)
    assert probes.parse_address("0", option=option) is None
    for bad in ("9090", "localhost", "127.0.0.1:99999", "host:port"):
        with pytest.raises(ValueError, match=f"--metrics-bind-address '{bad}' is not an address"):
            probes.parse_address(bad, option=option)


async def test_ready_once_synced_and_answered_and_the_body_says_who_leads() -> None:
    source = Source()
    async with _client(probes.ProbeApp(source, None)) as client:
        source.unsynced = ("NetworkPolicy",)
        waiting = await client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["checks"]["caches"] == "not synced yet: NetworkPolicy"

        source.unsynced = ()
        source.leader = True
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "ready": True,
            "leader": True,
            "identity": "replica-1",
            "checks": {"caches": "synced", "apiserver": "ok"},
        }

        # The API server goes away: every watch says so, once in the body.
        gone = ConnectionRefusedError("connection refused")
        for source_name in ("Namespace", "NetworkPolicy", "Lease"):
            source.contact.failed(source_name, gone)
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["apiserver"] == (
            "no answer: ConnectionRefusedError: connection refused (Lease, Namespace, NetworkPolicy)"
        )
        # Liveness does not care: restarting would not bring the API server back.
        assert (await client.get("/healthz")).status_code == 200

        for source_name in ("Namespace", "NetworkPolicy", "Lease"):
            source.contact.answered(source_name)
        assert (await client.get("/readyz")).status_code == 200


async def test_metrics_are_served_from_the_controllers_registry() -> None:
    metrics = ControllerMetrics(process=False)
    metrics.observe(
        Gauges(
            queue_depth=lambda: 3,
            leading=lambda: True,
            synced=lambda: True,
            managed=lambda: (2, {"baseline": 4, "attachment": 1}),
            cached=lambda: {"NetworkPolicy": 5},
        )
    )
    metrics.reconciled("success", 0.02)
    metrics.wrote("create", "networkpolicies", "conflict")
    metrics.refused("RefusedNamespace")
    metrics.watch_restarted("Deployment")
    async with _client(probes.ProbeApp(Source(), metrics.registry, health=False)) as client:
        response = await client.get("/metrics")
        assert response.status_code == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }
        assert samples[("netfence_workqueue_depth", ())] == 3
        assert samples[("netfence_leader", ())] == 1
        assert samples[("netfence_managed_namespaces", ())] == 2
        assert samples[("netfence_managed_policies", (("role", "baseline"),))] == 4
        assert samples[("netfence_reconcile_total", (("result", "success"),))] == 1
        assert samples[("netfence_reconcile_total", (("result", "error"),))] == 0
        assert samples[("netfence_reconcile_duration_seconds_count", (("result", "success"),))] == 1
        key = (("resource", "networkpolicies"), ("result", "conflict"), ("verb", "create"))
        assert samples[("netfence_writes_total", key)] == 1
        assert samples[("netfence_refusals_total", (("reason", "RefusedNamespace"),))] == 1
        assert samples[("netfence_watch_restarts_total", (("resource", "Deployment"),))] == 1
        assert not [name for name, _ in samples if name.endswith("_created")]
        # This listener serves the metrics only; the probes are elsewhere.
        missing = await client.get("/healthz")
        assert missing.status_code == 404
        assert missing.json()["paths"] == ["/metrics"]
