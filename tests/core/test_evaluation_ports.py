"""Which ports and protocols a rule opens: numbers, ranges, names, TCP/UDP/SCTP.

From the NetworkPolicyPort reference (protocol defaults to TCP; a missing port means all
ports; endPort makes an inclusive range; a named port is resolved on the destination pod)
and the Kubernetes documentation, "Targeting a range of ports".
"""

from __future__ import annotations

from typing import Any

from tests.core.clusters import Cluster, namespace, pod, policies

HTTP = {"containerPort": 8080, "name": "http"}
DNS_UDP = {"containerPort": 53, "name": "dns", "protocol": "UDP"}
DNS_TCP = {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"}

PODS: list[dict[str, Any]] = [
    namespace("app"),
    pod("app/client", {"role": "client"}, ip="10.0.0.1"),
    pod("app/server", {"role": "server"}, ip="10.0.0.2", ports=[HTTP, DNS_UDP, DNS_TCP]),
    pod(
        "app/legacy",
        {"role": "server"},
        ip="10.0.0.3",
        ports=[{"containerPort": 80, "name": "http"}],
    ),
]


def servers_accept(ports: str) -> Cluster:
    return Cluster(
        PODS,
        policies(f"""
kind: NetworkPolicy
metadata: {{name: servers, namespace: app}}
spec:
  podSelector: {{matchLabels: {{role: server}}}}
  ingress:
  - ports: {ports}
"""),
    )


def test_a_port_without_protocol_is_tcp() -> None:
    cluster = servers_accept("[{port: 53}]")
    assert cluster.allows("app/client", "app/server", 53, "TCP")
    assert not cluster.allows("app/client", "app/server", 53, "UDP")


def test_udp_and_sctp_are_matched_by_their_own_protocol_only() -> None:
    cluster = servers_accept("[{protocol: UDP, port: 53}, {protocol: SCTP, port: 9000}]")
    assert cluster.allows("app/client", "app/server", 53, "UDP")
    assert not cluster.allows("app/client", "app/server", 53, "TCP")
    assert cluster.allows("app/client", "app/server", 9000, "SCTP")
    assert not cluster.allows("app/client", "app/server", 9000, "UDP")


def test_a_protocol_without_port_opens_every_port_of_that_protocol() -> None:
    cluster = servers_accept("[{protocol: UDP}]")
    assert cluster.allows("app/client", "app/server", 53, "UDP")
    assert cluster.allows("app/client", "app/server", 65535, "UDP")
    assert not cluster.allows("app/client", "app/server", 8080, "TCP")


def test_an_empty_ports_list_opens_every_port_and_protocol() -> None:
    cluster = servers_accept("[]")
    assert cluster.allows("app/client", "app/server", 8080, "TCP")
    assert cluster.allows("app/client", "app/server", 53, "UDP")
    assert cluster.allows("app/client", "app/server", 9000, "SCTP")


def test_end_port_makes_an_inclusive_range() -> None:
    cluster = servers_accept("[{port: 8000, endPort: 8080}]")
    assert not cluster.allows("app/client", "app/server", 7999)
    assert cluster.allows("app/client", "app/server", 8000)
    assert cluster.allows("app/client", "app/server", 8080)
    assert not cluster.allows("app/client", "app/server", 8081)


def test_a_named_port_is_resolved_on_each_destination_pod() -> None:
    cluster = servers_accept("[{port: http}]")
    # The same name is 8080 on server and 80 on legacy.
    assert cluster.allows("app/client", "app/server", 8080)
    assert not cluster.allows("app/client", "app/server", 80)
    assert cluster.allows("app/client", "app/legacy", 80)
    assert not cluster.allows("app/client", "app/legacy", 8080)


def test_a_named_port_needs_the_protocol_of_the_container_port() -> None:
    cluster = servers_accept("[{port: dns}]")  # TCP by default, but dns is a UDP port
    assert not cluster.allows("app/client", "app/server", 53, "UDP")
    assert not cluster.allows("app/client", "app/server", 53, "TCP")
    udp = servers_accept("[{port: dns, protocol: UDP}]")
    assert udp.allows("app/client", "app/server", 53, "UDP")


def test_a_named_port_the_destination_does_not_declare_matches_nothing() -> None:
    cluster = servers_accept("[{port: grpc}]")
    assert not cluster.allows("app/client", "app/server", 8080)


def test_an_egress_named_port_is_resolved_on_the_destination() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: client-out, namespace: app}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: http}]
"""),
    )
    assert cluster.allows("app/client", "app/server", 8080)
    assert cluster.allows("app/client", "app/legacy", 80)
    assert not cluster.allows("app/client", "app/legacy", 8080)
    # The client declares no port named http, but it always reaches itself.
    assert cluster.allows("app/client", "app/client", 8080)
    assert cluster.explain("app/client", "app/client", 8080).itself


def test_a_rule_opens_its_ports_only_to_its_own_peers() -> None:
    cluster = Cluster(
        PODS,
        [pod("app/admin", {"role": "admin"}, ip="10.0.0.9")],
        policies("""
kind: NetworkPolicy
metadata: {name: servers, namespace: app}
spec:
  podSelector: {matchLabels: {role: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: 8080}]
  - from: [{podSelector: {matchLabels: {role: admin}}}]
    ports: [{port: 22}]
"""),
    )
    assert cluster.allows("app/client", "app/server", 8080)
    assert not cluster.allows("app/client", "app/server", 22)
    assert cluster.allows("app/admin", "app/server", 22)
    assert not cluster.allows("app/admin", "app/server", 8080)
