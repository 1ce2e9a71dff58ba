"""The templates netfence puts in a new catalog ConfigMap, as the exact text it stores.

The catalog is created with these once and never overwritten, so admins own it from then
on. Each text is what ``Template.to_yaml`` writes for it (a test holds them to that), so
the first edit through netfence changes only what the admin changed. Descriptions say
exactly what a template opens, because that is what a developer reads before attaching it.

Egress templates open only their own traffic: once any egress policy selects a pod, all
its other egress is blocked, DNS included, hence the reminders to attach ``dns`` as well.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Final

_DNS: Final = """\
description: |
  Egress: DNS lookups through the cluster DNS, that is UDP and TCP port 53 to the pods
  labelled k8s-app=kube-dns in namespace kube-system (CoreDNS keeps that label).
  Nothing else. Attach it next to every other egress template: once a pod has any egress
  policy, all its other egress is blocked, name resolution included. Clusters that run
  NodeLocal DNSCache also need egress to its link-local address (usually 169.254.20.10).
egress:
- to:
  - podSelector:
      matchLabels:
        k8s-app: kube-dns
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: kube-system
  ports:
  - protocol: UDP
    port: 53
  - protocol: TCP
    port: 53
"""

_HTTP: Final = """\
description: |
  Ingress: TCP port 80 from every pod in every namespace of the cluster.
  Traffic from addresses outside the cluster (not pods) is not included.
ingress:
- from:
  - namespaceSelector: {}
  ports:
  - protocol: TCP
    port: 80
"""

_HTTPS: Final = """\
description: |
  Ingress: TCP port 443 from every pod in every namespace of the cluster.
  Traffic from addresses outside the cluster (not pods) is not included.
ingress:
- from:
  - namespaceSelector: {}
  ports:
  - protocol: TCP
    port: 443
"""

_POSTGRES: Final = """\
description: |
  Egress: TCP port 5432 (PostgreSQL) to any address, inside or outside the cluster.
  Attach dns too if the pods find the database by name.
egress:
- ports:
  - protocol: TCP
    port: 5432
"""

_MYSQL: Final = """\
description: |
  Egress: TCP port 3306 (MySQL, MariaDB) to any address, inside or outside the cluster.
  Attach dns too if the pods find the database by name.
egress:
- ports:
  - protocol: TCP
    port: 3306
"""

_REDIS: Final = """\
description: |
  Egress: TCP port 6379 (Redis, Valkey) to any address, inside or outside the cluster.
  Attach dns too if the pods find the server by name.
egress:
- ports:
  - protocol: TCP
    port: 6379
"""

_MONGODB: Final = """\
description: |
  Egress: TCP port 27017 (MongoDB) to any address, inside or outside the cluster.
  Attach dns too if the pods find the database by name.
egress:
- ports:
  - protocol: TCP
    port: 27017
"""

_KAFKA: Final = """\
description: |
  Egress: TCP ports 9092 to 9094 (the usual Kafka broker listeners) to any address,
  inside or outside the cluster. The range needs a network plugin that supports endPort.
  Attach dns too if the pods find the brokers by name.
egress:
- ports:
  - protocol: TCP
    port: 9092
    endPort: 9094
"""

_PROMETHEUS_SCRAPE: Final = """\
description: |
  Ingress: lets Prometheus scrape metrics. Opens TCP ports 9090 to 9100, and any container
  port named "metrics", from the pods labelled app.kubernetes.io/name=prometheus in namespace
  monitoring. Edit the selectors if your Prometheus runs elsewhere or is labelled otherwise.
ingress:
- from:
  - podSelector:
      matchLabels:
        app.kubernetes.io/name: prometheus
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: monitoring
  ports:
  - protocol: TCP
    port: 9090
    endPort: 9100
  - protocol: TCP
    port: metrics
"""

_INGRESS_NGINX: Final = """\
description: |
  Ingress: TCP ports 80, 443 and 8080 from the ingress-nginx controller, that is the pods
  labelled app.kubernetes.io/name=ingress-nginx in namespace ingress-nginx.
ingress:
- from:
  - podSelector:
      matchLabels:
        app.kubernetes.io/name: ingress-nginx
    namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: ingress-nginx
  ports:
  - protocol: TCP
    port: 80
  - protocol: TCP
    port: 443
  - protocol: TCP
    port: 8080
"""

_EGRESS_INTERNET: Final = """\
description: |
  Egress: HTTPS (TCP port 443) to every IPv4 address except the private ranges of
  RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16). Pod and service addresses
  outside those ranges are included too. IPv6 is not. Attach dns too for name resolution.
egress:
- to:
  - ipBlock:
      cidr: 0.0.0.0/0
      except:
      - 10.0.0.0/8
      - 172.16.0.0/12
      - 192.168.0.0/16
  ports:
  - protocol: TCP
    port: 443
"""

# Name -> text, in the order an admin would read them: basics, web, data, platform.
DEFAULT_TEMPLATES: Final[Mapping[str, str]] = types.MappingProxyType(
    {
        "dns": _DNS,
        "http": _HTTP,
        "https": _HTTPS,
        "postgres": _POSTGRES,
        "mysql": _MYSQL,
        "redis": _REDIS,
        "mongodb": _MONGODB,
        "kafka": _KAFKA,
        "prometheus-scrape": _PROMETHEUS_SCRAPE,
        "ingress-nginx": _INGRESS_NGINX,
        "egress-internet": _EGRESS_INTERNET,
    }
)
