"""Validation of untrusted NetworkPolicy rules, with every error and a precise field path.

The rules are the API server's (``ValidateNetworkPolicySpec``, ``ValidateNetworkPolicyPort``,
``ValidateNetworkPolicyPeer``, ``ValidateIPBlock`` in k8s.io/kubernetes
pkg/apis/networking/validation, and metav1 ``ValidateLabelSelector``), so a template that
passes here is accepted when its policy is applied. On top of them, for input written by hand:

* Input is parsed YAML of any shape, so wrong types are reported, not raised.
* Unknown fields are errors (the API server drops them with at most a warning, turning a
  typo such as ``podSelecter`` into a rule that allows far more than intended).
* ``null`` is an error where the API would read it as "absent": ``podSelector:`` with
  nothing after it usually means ``{}`` (everything) to its author, not "unset".
* A CIDR with host bits set (``10.0.0.1/8``) is an error whose fix is the canonical form;
  the API server accepts it but it rarely means what was written.

Reading untyped values (lists, mappings, unknown fields) is `shapes`' job, and the syntax
of label keys, label values and port names is `name_syntax`'s; this module knows what the
fields of a rule mean. Everything here is purely computational: no I/O, no logging. Errors
are collected, never raised, so a user sees every problem at once.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

from netfence.core import errors, name_syntax, shapes

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")
MIN_PORT: Final = 1
MAX_PORT: Final = 65535

# Field names in the order the Go structs declare them; messages list them in this order.
_PEER_FIELDS: Final = ("podSelector", "namespaceSelector", "ipBlock")
_IP_BLOCK_FIELDS: Final = ("cidr", "except")
_PORT_FIELDS: Final = ("protocol", "port", "endPort")
_SELECTOR_FIELDS: Final = ("matchLabels", "matchExpressions")
_REQUIREMENT_FIELDS: Final = ("key", "operator", "values")

_CIDR_EXAMPLE: Final = "e.g. 10.0.0.0/8 or 2001:db8::/32"
_LABEL_KEY_EXAMPLE: Final = "label keys look like 'app' or 'app.kubernetes.io/name'"
_EMPTY_ENTRY_FIX: Final = "remove the empty '- ' entry"

# Misplaced fields people write often, with where they belong.
_RULE_HINTS: Final = {
    "port": "ports go in a list: ports: [{port: 80}]",
    "protocol": "protocols go in the ports list: ports: [{protocol: TCP, port: 80}]",
    "podSelector": "put peers in the rule's peer list, e.g. - podSelector: {...}",
    "namespaceSelector": "put peers in the rule's peer list, e.g. - namespaceSelector: {...}",
    "ipBlock": "put peers in the rule's peer list, e.g. - ipBlock: {cidr: 10.0.0.0/8}",
}
_PEER_HINTS: Final = {
    "namespace": (
        "select a namespace by name with "
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: NAME}}"
    ),
    "cidr": "put the CIDR under ipBlock: ipBlock: {cidr: 10.0.0.0/8}",
    "except": "put except under ipBlock, next to its cidr",
    "port": "ports belong to the rule, next to the peer list, not inside a peer",
    "ports": "ports belong to the rule, next to the peer list, not inside a peer",
}
_PORT_HINTS: Final = {
    "containerPort": "a NetworkPolicy names the pod's port with 'port'",
    "targetPort": "a NetworkPolicy names the pod's port with 'port'",
}

_DIGITS: Final = re.compile(r"[0-9]+")


# --- Public entry points ------------------------------------------------------------------


def validate_ingress_rules(rules: object, path: str) -> list[errors.FieldError]:
    """Every problem in a list of ingress rules; ``path`` prefixes each field (``ingress``)."""
    found: list[errors.FieldError] = []
    _check_rules(rules, path, found, peers="from", other="to")
    return found


def validate_egress_rules(rules: object, path: str) -> list[errors.FieldError]:
    """Every problem in a list of egress rules; ``path`` prefixes each field (``egress``)."""
    found: list[errors.FieldError] = []
    _check_rules(rules, path, found, peers="to", other="from")
    return found


def validate_selector(selector: object, path: str) -> list[errors.FieldError]:
    """Every problem in a label selector (metav1 ``ValidateLabelSelector``): a requirement
    without ``key``, an unknown operator, values that do not suit it, invalid labels."""
    found: list[errors.FieldError] = []
    _check_selector(selector, path, path.rpartition(".")[2] or "selector", found)
    return found


def validate_labels(labels: object, path: str) -> list[errors.FieldError]:
    """Every problem in an object's labels (``metadata.labels``): keys and values must be
    strings of label syntax. YAML reads unquoted ``on`` or ``1`` as a boolean or a number,
    which the API server refuses; ``null`` is no labels at all."""
    if labels is None:
        return []
    if isinstance(labels, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) and _plain_label(k, v) for k, v in labels.items()
    ):
        return []
    found: list[errors.FieldError] = []
    _check_match_labels(labels, path, found)
    return found


@functools.lru_cache(maxsize=8192)
def _plain_label(key: str, value: str) -> bool:
    # Pods of one controller repeat the same labels thousands of times in a cluster's files.
    return not name_syntax.qualified_name_errors(key) and not name_syntax.label_value_errors(value)


# --- Rules and peers ----------------------------------------------------------------------


def _check_rules(
    value: object, path: str, found: list[errors.FieldError], *, peers: str, other: str
) -> None:
    items = shapes.as_list(value, path, found, null_fix="remove the key, or list rules under it")
    direction = "ingress" if peers == "from" else "egress"
    hints = {other: f"{direction} rules name their peers {peers!r}", **_RULE_HINTS}
    for index, rule in enumerate(items or ()):
        rule_path = f"{path}[{index}]"
        fields = shapes.as_mapping(
            rule,
            rule_path,
            found,
            allowed=(peers, "ports"),
            hints=hints,
            null_fix=_EMPTY_ENTRY_FIX,
        )
        if fields is None:
            continue
        if peers in fields:
            _check_peers(fields[peers], shapes.child(rule_path, peers), found)
        if "ports" in fields:
            _check_ports(fields["ports"], shapes.child(rule_path, "ports"), found)


def _check_peers(value: object, path: str, found: list[errors.FieldError]) -> None:
    items = shapes.as_list(
        value, path, found, null_fix="remove the key (which allows any peer) or list peers"
    )
    for index, peer in enumerate(items or ()):
        peer_path = f"{path}[{index}]"
        fields = shapes.as_mapping(
            peer,
            peer_path,
            found,
            allowed=_PEER_FIELDS,
            hints=_PEER_HINTS,
            null_fix=_EMPTY_ENTRY_FIX,
        )
        if fields is None:
            continue
        for name in ("podSelector", "namespaceSelector"):
            if name in fields:
                _check_selector(fields[name], shapes.child(peer_path, name), name, found)
        if "ipBlock" in fields:
            _check_ip_block(fields["ipBlock"], shapes.child(peer_path, "ipBlock"), found)

        present = [name for name in _PEER_FIELDS if name in fields]
        # A peer holding only misspelt fields already has an error per field; "must
        # specify a peer" on top would only repeat it.
        if not present and isinstance(peer, Mapping) and not peer:
            found.append(
                errors.FieldError(
                    peer_path,
                    "must specify a peer: set podSelector, namespaceSelector and/or ipBlock",
                    "podSelector: {} means every pod in the policy's namespace, "
                    "namespaceSelector: {} every pod in the cluster",
                )
            )
        elif "ipBlock" in present and len(present) > 1:
            others = " or ".join(name for name in present if name != "ipBlock")
            found.append(
                errors.FieldError(
                    peer_path,
                    f"may not combine ipBlock with {others} in one peer",
                    "put the ipBlock in a peer of its own (a separate '- ' entry)",
                )
            )


# --- Label selectors ----------------------------------------------------------------------


def _check_selector(value: object, path: str, name: str, found: list[errors.FieldError]) -> None:
    fields = shapes.as_mapping(
        value,
        path,
        found,
        allowed=_SELECTOR_FIELDS,
        null_fix=f"write {name}: {{}} to select everything, or remove it",
    )
    if fields is None:
        return
    if "matchLabels" in fields:
        _check_match_labels(fields["matchLabels"], shapes.child(path, "matchLabels"), found)
    if "matchExpressions" in fields:
        _check_match_expressions(
            fields["matchExpressions"], shapes.child(path, "matchExpressions"), found
        )


def _check_match_labels(value: object, path: str, found: list[errors.FieldError]) -> None:
    if value is None:
        found.append(
            errors.FieldError(path, "is empty (null)", "write matchLabels: {} or remove it")
        )
        return
    if not isinstance(value, Mapping):
        found.append(
            errors.FieldError(
                path, f"must be a mapping of label: value, got {shapes.describe(value)}"
            )
        )
        return
    for key, label_value in value.items():
        key_path = f"{path}[{key}]"
        if isinstance(key, str):
            _check_label_key(key, key_path, found)
        else:
            found.append(
                errors.FieldError(
                    key_path,
                    f"label key must be a string, got {shapes.describe(key)}",
                    shapes.quote_fix(key),
                )
            )
        _check_label_value(label_value, key_path, found)


def _check_match_expressions(value: object, path: str, found: list[errors.FieldError]) -> None:
    items = shapes.as_list(value, path, found, null_fix="write matchExpressions: [] or remove it")
    for index, requirement in enumerate(items or ()):
        requirement_path = f"{path}[{index}]"
        fields = shapes.as_mapping(
            requirement,
            requirement_path,
            found,
            allowed=_REQUIREMENT_FIELDS,
            null_fix=_EMPTY_ENTRY_FIX,
        )
        if fields is not None:
            _check_requirement(fields, requirement_path, found)


def _check_requirement(
    fields: Mapping[str, object], path: str, found: list[errors.FieldError]
) -> None:
    _check_requirement_key(fields, shapes.child(path, "key"), found)
    operator = _requirement_operator(fields, shapes.child(path, "operator"), found)
    values_path = shapes.child(path, "values")
    values = _requirement_values(fields, values_path, found)
    # Operator/values consistency only makes sense once both are readable.
    if values is not None and operator is not None:
        _check_values_for_operator(operator, values, values_path, found)


def _check_requirement_key(
    fields: Mapping[str, object], path: str, found: list[errors.FieldError]
) -> None:
    key = fields.get("key")
    if "key" not in fields:
        found.append(
            errors.FieldError(path, "is required", "name the label to test, e.g. key: app")
        )
    elif not isinstance(key, str):
        found.append(errors.FieldError(path, f"must be a string, got {shapes.describe(key)}"))
    else:
        _check_label_key(key, path, found)


def _requirement_operator(
    fields: Mapping[str, object], path: str, found: list[errors.FieldError]
) -> str | None:
    """The requirement's operator, or None after reporting why it is missing or unknown."""
    operator = fields.get("operator")
    operators = ", ".join(SELECTOR_OPERATORS)
    if "operator" not in fields:
        found.append(errors.FieldError(path, "is required", f"use one of {operators}"))
        return None
    if not isinstance(operator, str) or operator not in SELECTOR_OPERATORS:
        shown = repr(operator) if isinstance(operator, str) else shapes.describe(operator)
        found.append(
            errors.FieldError(
                path,
                f"unsupported operator {shown}; must be one of {operators}",
                _case_fix(operator, SELECTOR_OPERATORS, "operators are case-sensitive"),
            )
        )
        return None
    return operator


def _requirement_values(
    fields: Mapping[str, object], path: str, found: list[errors.FieldError]
) -> list[object] | None:
    """The requirement's values ([] when absent), or None when they are not a list.

    Each value that is not a valid label value is reported, but stays in the list: whether
    there are values at all is what the operator cares about.
    """
    if "values" not in fields:
        return []
    values = shapes.as_list(fields["values"], path, found, null_fix="write values: [] or remove it")
    for index, item in enumerate(values or ()):
        _check_label_value(item, f"{path}[{index}]", found)
    return values


def _check_values_for_operator(
    operator: str, values: Sequence[object], path: str, found: list[errors.FieldError]
) -> None:
    if operator in ("In", "NotIn") and not values:
        found.append(
            errors.FieldError(
                path,
                f"must list at least one value when operator is {operator!r}",
                "add values, or use operator Exists to match any value",
            )
        )
    elif operator in ("Exists", "DoesNotExist") and values:
        found.append(
            errors.FieldError(
                path,
                f"may not be given when operator is {operator!r}",
                "remove values, or use operator In to match specific values",
            )
        )


def _check_label_key(key: str, path: str, found: list[errors.FieldError]) -> None:
    problems = name_syntax.qualified_name_errors(key)
    if not problems:
        return
    # Upper case in the DNS prefix is the one slip with an unambiguous correction.
    prefix, slash, name = key.rpartition("/")
    lowered = f"{prefix.lower()}{slash}{name}"
    fix = f"did you mean {lowered!r}?" if not name_syntax.qualified_name_errors(lowered) else None
    for problem in problems:
        found.append(
            errors.FieldError(
                path, f"invalid label key {key!r}: {problem}", fix or _LABEL_KEY_EXAMPLE
            )
        )


def _check_label_value(value: object, path: str, found: list[errors.FieldError]) -> None:
    if not isinstance(value, str):
        fix = shapes.quote_fix(value) if value is not None else "write '' for an empty value"
        found.append(
            errors.FieldError(
                path, f"label value must be a string, got {shapes.describe(value)}", fix
            )
        )
        return
    for problem in name_syntax.label_value_errors(value):
        found.append(errors.FieldError(path, f"invalid label value {value!r}: {problem}"))


# --- IP blocks ----------------------------------------------------------------------------


def _check_ip_block(value: object, path: str, found: list[errors.FieldError]) -> None:
    fields = shapes.as_mapping(
        value,
        path,
        found,
        allowed=_IP_BLOCK_FIELDS,
        null_fix="give the ipBlock a cidr, or remove it",
    )
    if fields is None:
        return
    cidr_path = shapes.child(path, "cidr")
    network: Network | None = None
    if "cidr" not in fields or fields["cidr"] == "":
        found.append(
            errors.FieldError(
                cidr_path, "is required", f"{_CIDR_EXAMPLE}; 0.0.0.0/0 is every IPv4 address"
            )
        )
    else:
        network = _check_cidr(fields["cidr"], cidr_path, found)
    if "except" in fields:
        _check_except(fields["except"], shapes.child(path, "except"), network, found)


def _check_except(
    value: object, path: str, network: Network | None, found: list[errors.FieldError]
) -> None:
    """The except list of an ipBlock; with the block's ``network`` (None when it is
    unusable) each entry must be a strict subset of it, in the same IP family."""
    items = shapes.as_list(value, path, found, null_fix="write except: [] or remove it")
    for index, item in enumerate(items or ()):
        item_path = f"{path}[{index}]"
        excluded = _check_cidr(item, item_path, found)
        if excluded is None or network is None:
            continue
        if excluded.version != network.version:
            found.append(
                errors.FieldError(
                    item_path,
                    f"{excluded} is IPv{excluded.version} but cidr {network} is "
                    f"IPv{network.version}; except must be in the same IP family",
                    "cover the other family with an ipBlock peer of its own",
                )
            )
        elif not _strictly_inside(excluded, network):
            fix = (
                "excluding all of cidr leaves nothing: remove the peer instead"
                if excluded == network
                else f"give a range inside {network}"
            )
            found.append(
                errors.FieldError(
                    item_path, f"{excluded} must be a strict subset of cidr {network}", fix
                )
            )


def _check_cidr(value: object, path: str, found: list[errors.FieldError]) -> Network | None:
    """The network ``value`` denotes, or None after reporting why it is not a usable CIDR.

    A CIDR with host bits set is reported but still returned, so that ``except`` entries can
    be checked against the range the API server would use.
    """
    if not isinstance(value, str):
        message = f"must be a CIDR string, got {shapes.describe(value)}"
        found.append(errors.FieldError(path, message, _CIDR_EXAMPLE))
        return None
    try:
        address, network = _parse_cidr(value)
    except _NotACidr as e:
        found.append(errors.FieldError(path, e.message, e.fix))
        return None

    mapped = network.network_address.ipv4_mapped if network.version == 6 else None
    if mapped is not None:
        # Policy engines disagree on whether these match IPv4 traffic; current API server
        # versions reject them too.
        fix = f"write {mapped}/{network.prefixlen - 96}" if network.prefixlen >= 96 else None
        found.append(errors.FieldError(path, f"{value!r} is an IPv4-mapped IPv6 range", fix))
        return None
    if network.network_address != address:
        message = (
            f"{value!r} has host bits set: the range it denotes starts at {network.network_address}"
        )
        found.append(errors.FieldError(path, message, f"write {network}"))
    elif not value.endswith(f"/{network.prefixlen}"):
        message = f"{value!r} has a leading zero in its prefix length"
        found.append(errors.FieldError(path, message, f"write {network}"))
    return network


class _NotACidr(Exception):
    """Why a text is not a CIDR; control flow inside this module, never raised out of it."""

    def __init__(self, message: str, fix: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def _parse_cidr(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, Network]:
    """The address as written and the network it belongs to; raises _NotACidr."""
    address_text, slash, prefix_text = text.partition("/")
    if not slash:
        message = f"{text!r} is not a CIDR: it needs '/' and a prefix length"
        raise _NotACidr(message, _single_address_fix(text))
    try:
        if "%" in address_text:  # ipaddress accepts IPv6 zones; CIDRs have none
            raise ValueError(address_text)
        address = ipaddress.ip_address(address_text)
    except ValueError:
        message = f"{text!r} is not a CIDR: {address_text!r} is not an IP address"
        raise _NotACidr(message, _CIDR_EXAMPLE) from None
    limit = address.max_prefixlen
    if not _DIGITS.fullmatch(prefix_text) or int(prefix_text) > limit:
        message = f"{text!r} is not a CIDR: the prefix length must be a number from 0 to {limit}"
        raise _NotACidr(message, _netmask_fix(text) or f"use a prefix length from 0 to {limit}")
    return address, ipaddress.ip_network((address, int(prefix_text)), strict=False)


def _single_address_fix(text: str) -> str:
    # A bare address is the usual slip; a single-address CIDR is what was meant.
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return _CIDR_EXAMPLE
    return f"write {address}/{address.max_prefixlen} for this single address"


def _netmask_fix(text: str) -> str | None:
    # A netmask (10.0.0.0/255.0.0.0) has an exact CIDR equivalent.
    try:
        return f"write {ipaddress.ip_network(text, strict=False)}"
    except ValueError:
        return None


def _strictly_inside(inner: Network, outer: Network) -> bool:
    # The isinstance pairs keep each comparison within one address family, as
    # ipaddress requires.
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.prefixlen > outer.prefixlen and inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.prefixlen > outer.prefixlen and inner.subnet_of(outer)
    return False


# --- Ports --------------------------------------------------------------------------------


def _check_ports(value: object, path: str, found: list[errors.FieldError]) -> None:
    items = shapes.as_list(
        value, path, found, null_fix="remove the key (which allows every port) or list ports"
    )
    for index, port in enumerate(items or ()):
        _check_port(port, f"{path}[{index}]", found)


def _check_port(value: object, path: str, found: list[errors.FieldError]) -> None:
    type_fix = None
    if isinstance(value, int | str) and not isinstance(value, bool):
        type_fix = f"write each entry as a mapping: - port: {value}"
    fields = shapes.as_mapping(
        value,
        path,
        found,
        allowed=_PORT_FIELDS,
        hints=_PORT_HINTS,
        null_fix=_EMPTY_ENTRY_FIX,
        type_fix=type_fix,
    )
    if fields is None:
        return
    if "protocol" in fields:
        _check_protocol(fields["protocol"], shapes.child(path, "protocol"), found)

    numeric_port: int | None = None
    if "port" in fields:
        numeric_port = _check_port_value(fields["port"], shapes.child(path, "port"), found)
    if "endPort" in fields:
        _check_end_port(fields, shapes.child(path, "endPort"), numeric_port, found)


def _check_end_port(
    fields: Mapping[str, object], path: str, start: int | None, found: list[errors.FieldError]
) -> None:
    """The endPort (at ``path``) of one port entry; ``start`` is its port if that is a number."""
    _check_range_start(fields, path, found)
    end = fields["endPort"]
    if isinstance(end, bool) or not isinstance(end, int):
        fix = None
        if isinstance(end, str) and _DIGITS.fullmatch(end):
            fix = f"write it without quotes: endPort: {int(end)}"
        found.append(
            errors.FieldError(path, f"must be a port number, got {shapes.describe(end)}", fix)
        )
        return
    if not MIN_PORT <= end <= MAX_PORT:
        found.append(
            errors.FieldError(
                path, f"{end} is not a port: must be between {MIN_PORT} and {MAX_PORT}"
            )
        )
    if start is not None and end < start:
        found.append(
            errors.FieldError(
                path,
                f"must be greater than or equal to port ({start})",
                f"set endPort to {start} or more, or swap port and endPort",
            )
        )


def _check_range_start(
    fields: Mapping[str, object], end_path: str, found: list[errors.FieldError]
) -> None:
    """A port entry with endPort needs a port to start the range, and only a number can."""
    port = fields.get("port")
    if "port" not in fields:
        found.append(
            errors.FieldError(
                end_path,
                "may not be given without port: a range needs its first port",
                "set port to the first port of the range",
            )
        )
    elif isinstance(port, str) and not _DIGITS.fullmatch(port):
        found.append(
            errors.FieldError(
                end_path,
                f"may not be given when port is a name ({port!r}): only numeric ports "
                "can start a range",
                "use a numeric port, or remove endPort",
            )
        )


def _check_protocol(value: object, path: str, found: list[errors.FieldError]) -> None:
    if isinstance(value, str) and value in PROTOCOLS:
        return
    shown = repr(value) if isinstance(value, str) else shapes.describe(value)
    fix = _case_fix(value, PROTOCOLS, "protocols are upper case")
    found.append(
        errors.FieldError(
            path,
            f"unsupported protocol {shown}; must be TCP, UDP or SCTP",
            fix or "omit protocol to mean TCP",
        )
    )


def _check_port_value(value: object, path: str, found: list[errors.FieldError]) -> int | None:
    """The port number, or None if the port is a name or invalid (errors reported)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        fix = "remove port (which allows every port) or give one" if value is None else None
        found.append(
            errors.FieldError(
                path,
                f"must be a port number ({MIN_PORT}-{MAX_PORT}) or a port name, "
                f"got {shapes.describe(value)}",
                fix,
            )
        )
        return None
    if isinstance(value, int):
        if not MIN_PORT <= value <= MAX_PORT:
            found.append(
                errors.FieldError(
                    path, f"{value} is not a port: must be between {MIN_PORT} and {MAX_PORT}"
                )
            )
        return value
    if _DIGITS.fullmatch(value):
        # The API would take "80" as a port *name* and reject it; the author meant 80.
        found.append(
            errors.FieldError(
                path,
                f"{value!r} is a quoted number, which Kubernetes reads as a port name",
                f"write it without quotes: port: {int(value)}",
            )
        )
        return None
    problems = name_syntax.port_name_errors(value)
    lowered = value.lower()
    fix = (
        f"port names are lower case: {lowered}"
        if lowered != value and not name_syntax.port_name_errors(lowered)
        else "name a container port (e.g. http, metrics) or give a number"
    )
    for problem in problems:
        found.append(errors.FieldError(path, f"invalid port name {value!r}: {problem}", fix))
    return None


# --- Fixes --------------------------------------------------------------------------------


def _case_fix(value: object, options: Sequence[str], why: str) -> str | None:
    if not isinstance(value, str):
        return None
    for option in options:
        if option.lower() == value.lower():
            return f"write {option}; {why}"
    return None
