"""NetworkPolicy rule shapes, exactly as networking.k8s.io/v1 spells them in JSON.

These are plain ``TypedDict``s rather than classes so that a rule can travel unchanged from
a template's YAML to the API server's JSON: the keys are the API's camelCase keys, optional
fields are optional keys (an absent key and an omitted field mean the same thing). They
describe *validated* data; untrusted input goes through ``netfence.core.validation`` first.
"""

from __future__ import annotations

from typing import Literal, TypedDict

# The protocols the API server accepts, case-sensitive.
Protocol = Literal["TCP", "UDP", "SCTP"]

# The selector operators metav1 accepts, case-sensitive.
SelectorOperator = Literal["In", "NotIn", "Exists", "DoesNotExist"]


class LabelSelectorRequirement(TypedDict, total=False):
    """One ``matchExpressions`` entry; the API requires ``key`` and ``operator``."""

    key: str
    operator: SelectorOperator
    values: list[str]


class LabelSelector(TypedDict, total=False):
    """A label selector; the empty selector ``{}`` matches everything."""

    matchLabels: dict[str, str]
    matchExpressions: list[LabelSelectorRequirement]


# A CIDR range; `except` entries are strict sub-ranges left out of it.
# `except` is a Python keyword, hence the functional syntax.
IPBlock = TypedDict(
    "IPBlock",
    {
        "cidr": str,
        "except": list[str],
    },
    total=False,
)


class NetworkPolicyPeer(TypedDict, total=False):
    """Who may talk: pods, namespaces (both given means pods *in* those namespaces), or IPs."""

    podSelector: LabelSelector
    namespaceSelector: LabelSelector
    ipBlock: IPBlock


class NetworkPolicyPort(TypedDict, total=False):
    """A port, a named container port, or (with ``endPort``) a numeric range."""

    protocol: Protocol
    port: int | str
    endPort: int


# Traffic allowed in; an absent or empty list means "any".
# `from` is a Python keyword, hence the functional syntax.
IngressRule = TypedDict(
    "IngressRule",
    {
        "from": list[NetworkPolicyPeer],
        "ports": list[NetworkPolicyPort],
    },
    total=False,
)


class EgressRule(TypedDict, total=False):
    """Traffic allowed out; an absent or empty list means 'any'."""

    to: list[NetworkPolicyPeer]
    ports: list[NetworkPolicyPort]
