"""The default catalog: every entry valid, stored in canonical form, opening what it says."""

from __future__ import annotations

import pytest

from netfence.core import rules, templates
from netfence.core.default_templates import DEFAULT_TEMPLATES

NAMES = sorted(DEFAULT_TEMPLATES)


def template(name: str) -> templates.Template:
    return templates.parse_template(name, DEFAULT_TEMPLATES[name])


def namespace_pods(namespace: str, labels: dict[str, str]) -> rules.NetworkPolicyPeer:
    return {
        "podSelector": {"matchLabels": labels},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
    }


def tcp(port: int | str, end: int | None = None) -> rules.NetworkPolicyPort:
    result: rules.NetworkPolicyPort = {"protocol": "TCP", "port": port}
    if end is not None:
        result["endPort"] = end
    return result


def test_the_promised_defaults_all_exist() -> None:
    assert set(DEFAULT_TEMPLATES) >= {
        "dns",
        "http",
        "https",
        "postgres",
        "mysql",
        "redis",
        "mongodb",
        "kafka",
        "prometheus-scrape",
        "ingress-nginx",
        "egress-internet",
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_default_parses(name: str) -> None:
    assert template(name).name == name


@pytest.mark.parametrize("name", NAMES)
def test_every_default_is_stored_exactly_as_netfence_would_write_it(name: str) -> None:
    # So the first edit through netfence shows only the admin's change in a diff.
    assert template(name).to_yaml() == DEFAULT_TEMPLATES[name]


@pytest.mark.parametrize("name", NAMES)
def test_every_default_description_starts_with_the_direction_it_opens(name: str) -> None:
    parsed = template(name)
    (direction,) = parsed.policy_types
    assert parsed.description.startswith(f"{direction}: ")


@pytest.mark.parametrize(
    "name", ["postgres", "mysql", "redis", "mongodb", "kafka", "egress-internet"]
)
def test_every_egress_default_but_dns_reminds_to_attach_dns(name: str) -> None:
    assert template(name).policy_types == ("Egress",)
    assert "Attach dns too" in template(name).description


def test_the_defaults_cannot_be_changed_by_accident() -> None:
    with pytest.raises(TypeError):
        DEFAULT_TEMPLATES["dns"] = ""  # type: ignore[index]


def test_dns_opens_udp_and_tcp_53_to_kube_dns_only() -> None:
    assert template("dns").egress == (
        {
            "to": [namespace_pods("kube-system", {"k8s-app": "kube-dns"})],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
    )


@pytest.mark.parametrize(("name", "port"), [("http", 80), ("https", 443)])
def test_web_defaults_open_their_port_to_every_namespace(name: str, port: int) -> None:
    assert template(name).ingress == ({"from": [{"namespaceSelector": {}}], "ports": [tcp(port)]},)


@pytest.mark.parametrize(
    ("name", "port"), [("postgres", 5432), ("mysql", 3306), ("redis", 6379), ("mongodb", 27017)]
)
def test_database_defaults_open_their_port_to_any_destination(name: str, port: int) -> None:
    assert template(name).egress == ({"ports": [tcp(port)]},)


def test_kafka_opens_the_broker_port_range() -> None:
    assert template("kafka").egress == ({"ports": [tcp(9092, 9094)]},)


def test_prometheus_scrape_lets_only_prometheus_in_on_metrics_ports() -> None:
    assert template("prometheus-scrape").ingress == (
        {
            "from": [namespace_pods("monitoring", {"app.kubernetes.io/name": "prometheus"})],
            "ports": [tcp(9090, 9100), tcp("metrics")],
        },
    )


def test_ingress_nginx_lets_only_the_controller_in_on_web_ports() -> None:
    assert template("ingress-nginx").ingress == (
        {
            "from": [namespace_pods("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})],
            "ports": [tcp(80), tcp(443), tcp(8080)],
        },
    )


def test_egress_internet_opens_https_everywhere_but_private_ranges() -> None:
    assert template("egress-internet").egress == (
        {
            "to": [
                {
                    "ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
                    }
                }
            ],
            "ports": [tcp(443)],
        },
    )


def test_the_whole_default_catalog_parses_without_broken_entries() -> None:
    catalog = templates.parse_catalog(DEFAULT_TEMPLATES)
    assert dict(catalog.broken) == {}
    assert sorted(catalog.templates) == NAMES
