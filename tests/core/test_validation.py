"""Rule validation: the API server's rules, on any parsed YAML, with paths and fixes."""

from __future__ import annotations

import pytest

from netfence.core import errors, validation


def ingress(rules: object) -> list[errors.FieldError]:
    return validation.validate_ingress_rules(rules, "ingress")


def egress(rules: object) -> list[errors.FieldError]:
    return validation.validate_egress_rules(rules, "egress")


def peer(value: object) -> list[errors.FieldError]:
    return ingress([{"from": [value]}])


def port(value: object) -> list[errors.FieldError]:
    return ingress([{"ports": [value]}])


def pods(labels: object) -> list[errors.FieldError]:
    return peer({"podSelector": {"matchLabels": labels}})


def expression(value: object) -> list[errors.FieldError]:
    return peer({"podSelector": {"matchExpressions": [value]}})


def ip_block(value: object) -> list[errors.FieldError]:
    return peer({"ipBlock": value})


def only(found: list[errors.FieldError]) -> errors.FieldError:
    assert len(found) == 1, found
    return found[0]


PEER = "ingress[0].from[0]"
PORT = "ingress[0].ports[0]"
SELECTOR = f"{PEER}.podSelector"
LABELS = f"{SELECTOR}.matchLabels"
EXPRESSION = f"{SELECTOR}.matchExpressions[0]"
BLOCK = f"{PEER}.ipBlock"


# --- Valid input --------------------------------------------------------------------------


def test_a_rich_valid_rule_set_has_no_errors() -> None:
    rules = [
        {
            "from": [
                {"podSelector": {"matchLabels": {"app": "web", "tier": ""}}},
                {
                    "namespaceSelector": {
                        "matchExpressions": [
                            {"key": "team", "operator": "In", "values": ["a", "b"]},
                            {"key": "env", "operator": "NotIn", "values": ["prod"]},
                            {"key": "example.com/owner", "operator": "Exists"},
                            {"key": "legacy", "operator": "DoesNotExist", "values": []},
                        ]
                    },
                    "podSelector": {},
                },
                {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]}},
            ],
            "ports": [
                {"protocol": "TCP", "port": 8080, "endPort": 8090},
                {"protocol": "UDP", "port": 53},
                {"protocol": "SCTP", "port": "diameter"},
                {"port": "metrics"},
                {"protocol": "TCP"},
                {},
            ],
        }
    ]
    assert ingress(rules) == []


def test_no_rules_at_all_is_valid() -> None:
    assert ingress([]) == []


def test_an_empty_rule_allowing_everything_is_valid() -> None:
    assert egress([{}]) == []


def test_empty_peer_and_port_lists_are_valid() -> None:
    assert ingress([{"from": [], "ports": []}]) == []
    assert egress([{"to": [], "ports": []}]) == []


def test_an_empty_selector_means_all_and_is_valid() -> None:
    assert peer({"podSelector": {}}) == []
    assert peer({"namespaceSelector": {}}) == []
    assert peer({"namespaceSelector": {}, "podSelector": {}}) == []


def test_the_path_prefix_is_the_callers() -> None:
    error = only(validation.validate_egress_rules([{"to": [{}]}], "spec.egress"))
    assert error.field == "spec.egress[0].to[0]"


# --- Shapes -------------------------------------------------------------------------------


def test_rules_that_are_a_mapping_are_rejected_with_the_dash_fix() -> None:
    error = only(ingress({"from": []}))
    assert error.field == "ingress"
    assert error.message == "must be a list, got a mapping"
    assert error.fix == "start each entry with '- ' (a dash and a space)"


def test_null_rules_are_rejected() -> None:
    error = only(ingress(None))
    assert error.field == "ingress"
    assert error.message == "is empty (null)"
    assert error.fix == "remove the key, or list rules under it"


def test_a_rule_that_is_not_a_mapping_is_rejected() -> None:
    error = only(ingress(["allow-all"]))
    assert error.field == "ingress[0]"
    assert error.message == "must be a mapping, got a string"


def test_a_one_item_list_where_a_mapping_belongs_suggests_removing_the_dash() -> None:
    error = only(peer({"ipBlock": [{"cidr": "10.0.0.0/8"}]}))
    assert error.field == f"{BLOCK}"
    assert error.message == "must be a mapping, got a list"
    assert error.fix == "remove the '- ': this is a single mapping, not a list"


def test_a_peer_list_that_is_a_string_is_rejected_with_a_list_fix() -> None:
    error = only(ingress([{"from": "everyone"}]))
    assert error.field == "ingress[0].from"
    assert error.message == "must be a list, got a string"
    assert error.fix == "write it as a list: [everyone]"


def test_an_unknown_rule_field_is_rejected_naming_the_allowed_fields() -> None:
    error = only(ingress([{"form": []}]))
    assert error.field == "ingress[0].form"
    assert error.message == "unknown field 'form'; allowed here: from, ports"
    assert error.fix == "did you mean 'from'?"


def test_to_in_an_ingress_rule_points_to_from() -> None:
    error = only(ingress([{"to": []}]))
    assert error.field == "ingress[0].to"
    assert error.fix == "ingress rules name their peers 'from'"


def test_from_in_an_egress_rule_points_to_to() -> None:
    error = only(egress([{"from": []}]))
    assert error.field == "egress[0].from"
    assert error.message == "unknown field 'from'; allowed here: to, ports"
    assert error.fix == "egress rules name their peers 'to'"


def test_a_port_at_rule_level_points_to_the_ports_list() -> None:
    error = only(ingress([{"port": 80}]))
    assert error.field == "ingress[0].port"
    assert error.fix == "ports go in a list: ports: [{port: 80}]"


def test_a_non_string_field_name_is_reported_as_unknown() -> None:
    error = only(ingress([{80: "tcp"}]))
    assert error.field == "ingress[0].80"
    assert error.message == "unknown field '80'; allowed here: from, ports"


def test_an_empty_list_entry_is_rejected() -> None:
    error = only(ingress([{"from": [None]}]))
    assert error.field == PEER
    assert error.message == "is empty (null)"
    assert error.fix == "remove the empty '- ' entry"


def test_null_ports_are_rejected_rather_than_read_as_all_ports() -> None:
    error = only(ingress([{"ports": None}]))
    assert error.field == "ingress[0].ports"
    assert error.message == "is empty (null)"
    assert error.fix == "remove the key (which allows every port) or list ports"


def test_every_error_is_reported_not_just_the_first() -> None:
    found = ingress(
        [
            {"from": [{}], "ports": [{"port": 0}]},
            {"ports": [{"protocol": "ICMP"}], "to": []},
        ]
    )
    assert [error.field for error in found] == [
        "ingress[0].from[0]",
        "ingress[0].ports[0].port",
        "ingress[1].to",
        "ingress[1].ports[0].protocol",
    ]


def test_egress_errors_carry_egress_paths() -> None:
    error = only(egress([{"to": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}]))
    assert error.field == "egress[0].to[0].ipBlock.cidr"


# --- Peers --------------------------------------------------------------------------------


def test_a_peer_without_any_selector_is_rejected() -> None:
    error = only(peer({}))
    assert error.field == PEER
    assert error.message == "must specify a peer: set podSelector, namespaceSelector and/or ipBlock"
    assert error.fix is not None
    assert "podSelector: {}" in error.fix


def test_a_misspelt_peer_field_is_rejected_with_a_suggestion_and_nothing_else() -> None:
    error = only(peer({"podSelecter": {}}))
    assert error.field == f"{PEER}.podSelecter"
    assert error.message == (
        "unknown field 'podSelecter'; allowed here: podSelector, namespaceSelector, ipBlock"
    )
    assert error.fix == "did you mean 'podSelector'?"


def test_a_namespace_field_in_a_peer_points_to_the_namespace_name_label() -> None:
    error = only(peer({"namespace": "prod"}))
    assert error.field == f"{PEER}.namespace"
    assert error.fix is not None
    assert "kubernetes.io/metadata.name" in error.fix


def test_ip_block_combined_with_a_selector_is_rejected() -> None:
    error = only(peer({"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}}))
    assert error.field == PEER
    assert error.message == "may not combine ipBlock with namespaceSelector in one peer"
    assert error.fix == "put the ipBlock in a peer of its own (a separate '- ' entry)"


def test_ip_block_combined_with_both_selectors_names_both() -> None:
    found = peer({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}, "namespaceSelector": {}})
    assert only(found).message == (
        "may not combine ipBlock with podSelector or namespaceSelector in one peer"
    )


# --- Label selectors ----------------------------------------------------------------------


def test_a_null_selector_is_rejected_with_the_empty_selector_as_fix() -> None:
    error = only(peer({"podSelector": None}))
    assert error.field == SELECTOR
    assert error.message == "is empty (null)"
    assert error.fix == "write podSelector: {} to select everything, or remove it"


def test_a_selector_that_is_not_a_mapping_is_rejected() -> None:
    error = only(peer({"namespaceSelector": "prod"}))
    assert error.field == f"{PEER}.namespaceSelector"
    assert error.message == "must be a mapping, got a string"


def test_an_unknown_selector_field_is_rejected_with_a_suggestion() -> None:
    error = only(peer({"podSelector": {"matchLabel": {"app": "web"}}}))
    assert error.field == f"{SELECTOR}.matchLabel"
    assert error.fix == "did you mean 'matchLabels'?"


def test_match_labels_that_are_a_list_are_rejected() -> None:
    error = only(pods(["app=web"]))
    assert error.field == LABELS
    assert error.message == "must be a mapping of label: value, got a list"


@pytest.mark.parametrize(
    "key",
    ["app", "k8s-app", "app.kubernetes.io/name", "a" * 63, "Example_Key.1", "x.io/" + "b" * 63],
)
def test_valid_label_keys_are_accepted(key: str) -> None:
    assert pods({key: "v"}) == []


def test_a_label_key_with_a_space_is_rejected() -> None:
    error = only(pods({"my app": "web"}))
    assert error.field == f"{LABELS}[my app]"
    assert error.message == (
        "invalid label key 'my app': name part must consist of alphanumeric characters, "
        "'-', '_' or '.', and must start and end with an alphanumeric character"
    )
    assert error.fix == "label keys look like 'app' or 'app.kubernetes.io/name'"


def test_a_label_key_with_an_upper_case_prefix_suggests_lower_case() -> None:
    error = only(pods({"Example.COM/app": "web"}))
    assert error.message.startswith("invalid label key 'Example.COM/app': prefix part must ")
    assert error.fix == "did you mean 'example.com/app'?"


def test_a_label_key_name_longer_than_63_characters_is_rejected() -> None:
    key = "a" * 64
    error = only(pods({key: "v"}))
    assert (
        error.message == f"invalid label key {key!r}: name part must be no more than 63 characters"
    )


def test_a_label_key_prefix_longer_than_253_characters_is_rejected() -> None:
    key = "a" * 254 + "/app"
    error = only(pods({key: "v"}))
    assert error.message == (
        f"invalid label key {key!r}: prefix part must be no more than 253 characters"
    )


def test_a_label_key_with_two_slashes_is_rejected() -> None:
    error = only(pods({"a/b/c": "v"}))
    assert error.message == (
        "invalid label key 'a/b/c': must be a name with at most one '/', e.g. 'example.com/name'"
    )


def test_a_label_key_with_an_empty_prefix_is_rejected() -> None:
    error = only(pods({"/app": "v"}))
    assert error.message == "invalid label key '/app': prefix part must not be empty"


def test_a_label_key_with_an_empty_name_is_rejected() -> None:
    error = only(pods({"example.com/": "v"}))
    assert error.message == "invalid label key 'example.com/': name part must not be empty"


def test_a_label_value_may_be_empty() -> None:
    assert pods({"tier": ""}) == []


def test_a_label_value_longer_than_63_characters_is_rejected() -> None:
    value = "v" * 64
    error = only(pods({"app": value}))
    assert error.field == f"{LABELS}[app]"
    assert error.message == f"invalid label value {value!r}: must be no more than 63 characters"


@pytest.mark.parametrize("value", ["-web", "web-", "my web", "web/v1"])
def test_a_label_value_with_bad_characters_is_rejected(value: str) -> None:
    error = only(pods({"app": value}))
    assert error.field == f"{LABELS}[app]"
    assert error.message == (
        f"invalid label value {value!r}: must consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character"
    )


@pytest.mark.parametrize(
    ("value", "kind", "fix"),
    [
        (1, "an integer", "quote it: '1'"),
        (
            True,
            "a boolean",
            "quote it as written: YAML reads unquoted yes/no, on/off, true/false as booleans",
        ),
        (1.5, "a number with a fraction", "quote it: '1.5'"),
        (None, "null", "write '' for an empty value"),
    ],
)
def test_a_label_value_yaml_read_as_a_non_string_must_be_quoted(
    value: object, kind: str, fix: str
) -> None:
    error = only(pods({"version": value}))
    assert error.field == f"{LABELS}[version]"
    assert error.message == f"label value must be a string, got {kind}"
    assert error.fix == fix


def test_a_label_key_yaml_read_as_a_number_must_be_quoted() -> None:
    error = only(pods({2024: "v"}))
    assert error.field == f"{LABELS}[2024]"
    assert error.message == "label key must be a string, got an integer"
    assert error.fix == "quote it: '2024'"


@pytest.mark.parametrize("operator", ["In", "NotIn"])
def test_in_and_not_in_without_values_are_rejected(operator: str) -> None:
    error = only(expression({"key": "app", "operator": operator}))
    assert error.field == f"{EXPRESSION}.values"
    assert error.message == f"must list at least one value when operator is {operator!r}"
    assert error.fix == "add values, or use operator Exists to match any value"


def test_in_with_an_empty_values_list_is_rejected() -> None:
    error = only(expression({"key": "app", "operator": "In", "values": []}))
    assert error.field == f"{EXPRESSION}.values"


@pytest.mark.parametrize("operator", ["Exists", "DoesNotExist"])
def test_exists_and_does_not_exist_with_values_are_rejected(operator: str) -> None:
    error = only(expression({"key": "app", "operator": operator, "values": ["web"]}))
    assert error.field == f"{EXPRESSION}.values"
    assert error.message == f"may not be given when operator is {operator!r}"
    assert error.fix == "remove values, or use operator In to match specific values"


def test_an_operator_in_the_wrong_case_is_rejected_with_the_right_case() -> None:
    error = only(expression({"key": "app", "operator": "in", "values": ["web"]}))
    assert error.field == f"{EXPRESSION}.operator"
    assert error.message == (
        "unsupported operator 'in'; must be one of In, NotIn, Exists, DoesNotExist"
    )
    assert error.fix == "write In; operators are case-sensitive"


def test_an_unknown_operator_is_rejected() -> None:
    error = only(expression({"key": "app", "operator": "Equals", "values": ["web"]}))
    assert error.field == f"{EXPRESSION}.operator"
    assert error.fix is None


def test_a_requirement_needs_a_key_and_an_operator() -> None:
    found = expression({"values": ["web"]})
    assert [(error.field, error.message) for error in found] == [
        (f"{EXPRESSION}.key", "is required"),
        (f"{EXPRESSION}.operator", "is required"),
    ]
    assert found[1].fix == "use one of In, NotIn, Exists, DoesNotExist"


def test_a_requirement_key_must_be_a_label_key() -> None:
    error = only(expression({"key": "bad key", "operator": "Exists"}))
    assert error.field == f"{EXPRESSION}.key"
    assert error.message.startswith("invalid label key 'bad key': ")


def test_requirement_values_must_be_label_values() -> None:
    found = expression({"key": "app", "operator": "In", "values": ["ok", "not ok", 3]})
    assert [(error.field, error.message) for error in found] == [
        (
            f"{EXPRESSION}.values[1]",
            "invalid label value 'not ok': must consist of alphanumeric characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character",
        ),
        (f"{EXPRESSION}.values[2]", "label value must be a string, got an integer"),
    ]


def test_an_unknown_requirement_field_is_rejected() -> None:
    error = only(expression({"key": "app", "operator": "In", "value": ["web"], "values": ["x"]}))
    assert error.field == f"{EXPRESSION}.value"
    assert error.fix == "did you mean 'values'?"


# --- IP blocks ----------------------------------------------------------------------------


def test_an_ip_block_needs_a_cidr() -> None:
    error = only(ip_block({"except": []}))
    assert error.field == f"{BLOCK}.cidr"
    assert error.message == "is required"
    assert error.fix == ("e.g. 10.0.0.0/8 or 2001:db8::/32; 0.0.0.0/0 is every IPv4 address")


def test_an_empty_cidr_counts_as_missing() -> None:
    assert only(ip_block({"cidr": ""})).message == "is required"


def test_every_ipv4_address_with_the_private_ranges_excepted_is_valid() -> None:
    block = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}
    assert ip_block(block) == []


def test_an_ipv6_cidr_with_except_is_valid() -> None:
    assert ip_block({"cidr": "::/0", "except": ["fd00::/8", "fe80::/10"]}) == []


def test_a_single_address_cidr_is_valid() -> None:
    assert ip_block({"cidr": "192.0.2.7/32"}) == []
    assert ip_block({"cidr": "2001:db8::7/128"}) == []


def test_a_cidr_with_host_bits_set_is_rejected_with_the_canonical_form() -> None:
    error = only(ip_block({"cidr": "10.1.2.3/8"}))
    assert error.field == f"{BLOCK}.cidr"
    assert (
        error.message == "'10.1.2.3/8' has host bits set: the range it denotes starts at 10.0.0.0"
    )
    assert error.fix == "write 10.0.0.0/8"


def test_an_ipv6_cidr_with_host_bits_set_is_rejected_with_the_canonical_form() -> None:
    error = only(ip_block({"cidr": "2001:db8::1/32"}))
    assert error.fix == "write 2001:db8::/32"


@pytest.mark.parametrize(
    ("cidr", "fix"),
    [
        ("10.1.2.3", "write 10.1.2.3/32 for this single address"),
        ("2001:db8::1", "write 2001:db8::1/128 for this single address"),
        ("example.com", "e.g. 10.0.0.0/8 or 2001:db8::/32"),
    ],
)
def test_a_cidr_without_a_prefix_length_is_rejected(cidr: str, fix: str) -> None:
    error = only(ip_block({"cidr": cidr}))
    assert error.field == f"{BLOCK}.cidr"
    assert error.message == f"{cidr!r} is not a CIDR: it needs '/' and a prefix length"
    assert error.fix == fix


def test_netmask_notation_is_rejected_with_the_prefix_length_form() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/255.0.0.0"}))
    assert error.message == (
        "'10.0.0.0/255.0.0.0' is not a CIDR: the prefix length must be a number from 0 to 32"
    )
    assert error.fix == "write 10.0.0.0/8"


def test_a_prefix_length_beyond_the_address_size_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/33"}))
    assert (
        error.message
        == "'10.0.0.0/33' is not a CIDR: the prefix length must be a number from 0 to 32"
    )
    assert error.fix == "use a prefix length from 0 to 32"


@pytest.mark.parametrize("cidr", ["10.0.0.256/32", "010.0.0.0/8", "fe80::1%eth0/64", "/8"])
def test_a_cidr_whose_address_is_not_an_ip_address_is_rejected(cidr: str) -> None:
    error = only(ip_block({"cidr": cidr}))
    address = cidr.partition("/")[0]
    assert error.message == f"{cidr!r} is not a CIDR: {address!r} is not an IP address"


def test_a_leading_zero_in_the_prefix_length_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/08"}))
    assert error.message == "'10.0.0.0/08' has a leading zero in its prefix length"
    assert error.fix == "write 10.0.0.0/8"


def test_an_ipv4_mapped_ipv6_cidr_is_rejected_with_the_ipv4_form() -> None:
    error = only(ip_block({"cidr": "::ffff:10.0.0.0/104"}))
    assert error.message == "'::ffff:10.0.0.0/104' is an IPv4-mapped IPv6 range"
    assert error.fix == "write 10.0.0.0/8"


def test_a_cidr_that_is_not_a_string_is_rejected() -> None:
    error = only(ip_block({"cidr": 10}))
    assert error.field == f"{BLOCK}.cidr"
    assert error.message == "must be a CIDR string, got an integer"


def test_an_except_outside_the_cidr_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "192.168.0.0/16"]}))
    assert error.field == f"{BLOCK}.except[1]"
    assert error.message == "192.168.0.0/16 must be a strict subset of cidr 10.0.0.0/8"
    assert error.fix == "give a range inside 10.0.0.0/8"


def test_an_except_wider_than_the_cidr_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.1.0.0/16", "except": ["10.0.0.0/8"]}))
    assert error.message == "10.0.0.0/8 must be a strict subset of cidr 10.1.0.0/16"


def test_an_except_equal_to_the_cidr_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}))
    assert error.field == f"{BLOCK}.except[0]"
    assert error.message == "10.0.0.0/8 must be a strict subset of cidr 10.0.0.0/8"
    assert error.fix == "excluding all of cidr leaves nothing: remove the peer instead"


def test_an_except_of_the_other_ip_family_is_rejected() -> None:
    error = only(ip_block({"cidr": "0.0.0.0/0", "except": ["fd00::/8"]}))
    assert error.field == f"{BLOCK}.except[0]"
    assert error.message == (
        "fd00::/8 is IPv6 but cidr 0.0.0.0/0 is IPv4; except must be in the same IP family"
    )


def test_except_entries_are_checked_against_the_range_a_sloppy_cidr_denotes() -> None:
    found = ip_block({"cidr": "10.0.0.1/8", "except": ["10.1.0.0/16"]})
    assert [error.field for error in found] == [f"{BLOCK}.cidr"]


def test_an_invalid_except_entry_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/8", "except": ["10.1.0.1/16"]}))
    assert error.field == f"{BLOCK}.except[0]"
    assert error.fix == "write 10.1.0.0/16"


def test_an_except_that_is_a_string_is_rejected_with_a_list_fix() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/8", "except": "10.1.0.0/16"}))
    assert error.field == f"{BLOCK}.except"
    assert error.message == "must be a list, got a string"
    assert error.fix == "write it as a list: [10.1.0.0/16]"


def test_an_unknown_ip_block_field_is_rejected() -> None:
    error = only(ip_block({"cidr": "10.0.0.0/8", "exclude": ["10.1.0.0/16"]}))
    assert error.field == f"{BLOCK}.exclude"
    assert error.message == "unknown field 'exclude'; allowed here: cidr, except"


# --- Ports --------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["TCP", "UDP", "SCTP"])
def test_tcp_udp_and_sctp_are_accepted(protocol: str) -> None:
    assert port({"protocol": protocol, "port": 5000}) == []


def test_a_lower_case_protocol_is_rejected_like_the_api_server_does() -> None:
    error = only(port({"protocol": "udp", "port": 53}))
    assert error.field == f"{PORT}.protocol"
    assert error.message == "unsupported protocol 'udp'; must be TCP, UDP or SCTP"
    assert error.fix == "write UDP; protocols are upper case"


def test_an_unsupported_protocol_is_rejected() -> None:
    error = only(port({"protocol": "ICMP"}))
    assert error.message == "unsupported protocol 'ICMP'; must be TCP, UDP or SCTP"
    assert error.fix == "omit protocol to mean TCP"


def test_a_protocol_that_is_not_a_string_is_rejected() -> None:
    error = only(port({"protocol": 6}))
    assert error.message == "unsupported protocol an integer; must be TCP, UDP or SCTP"


@pytest.mark.parametrize("number", [1, 80, 65535])
def test_ports_from_1_to_65535_are_accepted(number: int) -> None:
    assert port({"port": number}) == []


@pytest.mark.parametrize("number", [0, -1, 65536])
def test_a_port_outside_1_to_65535_is_rejected(number: int) -> None:
    error = only(port({"port": number}))
    assert error.field == f"{PORT}.port"
    assert error.message == f"{number} is not a port: must be between 1 and 65535"


def test_a_quoted_port_number_is_rejected_with_the_unquoted_form() -> None:
    error = only(port({"port": "8080"}))
    assert error.field == f"{PORT}.port"
    assert error.message == "'8080' is a quoted number, which Kubernetes reads as a port name"
    assert error.fix == "write it without quotes: port: 8080"


@pytest.mark.parametrize("name", ["http", "metrics", "grpc-web", "h2c", "x", "a23456789012345"])
def test_a_named_port_is_accepted(name: str) -> None:
    assert port({"port": name}) == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a234567890123456", "must be no more than 15 characters"),
        ("my_port", "must contain only lower case letters (a-z), digits (0-9) and '-'"),
        ("123-456", "must contain at least one letter (a-z)"),
        ("my--port", "must not contain consecutive hyphens"),
        ("-http", "must not begin or end with a hyphen"),
        ("http-", "must not begin or end with a hyphen"),
        ("", "must not be empty"),
    ],
)
def test_an_invalid_port_name_is_rejected(name: str, problem: str) -> None:
    error = only(port({"port": name}))
    assert error.field == f"{PORT}.port"
    assert error.message == f"invalid port name {name!r}: {problem}"


def test_an_upper_case_port_name_suggests_lower_case() -> None:
    error = only(port({"port": "HTTP"}))
    assert error.fix == "port names are lower case: http"


@pytest.mark.parametrize(
    ("value", "kind"), [(True, "a boolean"), (80.5, "a number with a fraction"), ([80], "a list")]
)
def test_a_port_of_the_wrong_type_is_rejected(value: object, kind: str) -> None:
    error = only(port({"port": value}))
    assert error.field == f"{PORT}.port"
    assert error.message == f"must be a port number (1-65535) or a port name, got {kind}"


def test_a_bare_number_in_the_ports_list_suggests_a_mapping() -> None:
    error = only(ingress([{"ports": [443]}]))
    assert error.field == PORT
    assert error.message == "must be a mapping, got an integer"
    assert error.fix == "write each entry as a mapping: - port: 443"


def test_target_port_is_rejected_pointing_to_port() -> None:
    error = only(port({"targetPort": 8080}))
    assert error.field == f"{PORT}.targetPort"
    assert error.fix == "a NetworkPolicy names the pod's port with 'port'"


def test_an_end_port_range_is_accepted() -> None:
    assert port({"port": 32000, "endPort": 32768}) == []


def test_an_end_port_equal_to_the_port_is_accepted() -> None:
    assert port({"port": 80, "endPort": 80}) == []


def test_end_port_without_port_is_rejected() -> None:
    error = only(port({"endPort": 90}))
    assert error.field == f"{PORT}.endPort"
    assert error.message == "may not be given without port: a range needs its first port"
    assert error.fix == "set port to the first port of the range"


def test_end_port_without_numeric_port_is_rejected() -> None:
    error = only(port({"port": "http", "endPort": 90}))
    assert error.field == f"{PORT}.endPort"
    assert error.message == (
        "may not be given when port is a name ('http'): only numeric ports can start a range"
    )


def test_end_port_below_port_is_rejected() -> None:
    error = only(port({"port": 9100, "endPort": 9090}))
    assert error.field == f"{PORT}.endPort"
    assert error.message == "must be greater than or equal to port (9100)"
    assert error.fix == "set endPort to 9100 or more, or swap port and endPort"


def test_end_port_above_65535_is_rejected() -> None:
    error = only(port({"port": 80, "endPort": 70000}))
    assert error.field == f"{PORT}.endPort"
    assert error.message == "70000 is not a port: must be between 1 and 65535"


def test_a_quoted_end_port_is_rejected_with_the_unquoted_form() -> None:
    error = only(port({"port": 80, "endPort": "90"}))
    assert error.field == f"{PORT}.endPort"
    assert error.message == "must be a port number, got a string"
    assert error.fix == "write it without quotes: endPort: 90"


def test_a_quoted_port_with_end_port_reports_only_the_quoting() -> None:
    error = only(port({"port": "80", "endPort": 90}))
    assert error.field == f"{PORT}.port"
