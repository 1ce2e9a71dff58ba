"""Templates: names, parsing from YAML, the Template model and the catalog."""

from __future__ import annotations

import dataclasses
import json
import pickle
import textwrap

import pytest

from netfence.core import errors, rules, templates

WEB_INGRESS: rules.IngressRule = {
    "from": [{"namespaceSelector": {}}],
    "ports": [{"protocol": "TCP", "port": 80}],
}
DNS_EGRESS: rules.EgressRule = {"ports": [{"protocol": "UDP", "port": 53}]}


def problems(name: str, text: str) -> tuple[errors.FieldError, ...]:
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.parse_template(name, textwrap.dedent(text))
    assert caught.value.template == name
    return caught.value.errors


def only(found: tuple[errors.FieldError, ...]) -> errors.FieldError:
    assert len(found) == 1, found
    return found[0]


# --- Names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dns", "postgres-14", "a", "0day", "a" * 63])
def test_dns_label_names_are_valid_template_names(name: str) -> None:
    assert templates.validate_template_name(name) == []


def test_an_empty_template_name_is_rejected() -> None:
    error = only(tuple(templates.validate_template_name("")))
    assert error.field == "name"
    assert error.message == "must not be empty"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Postgres_DB", "postgres-db"),
        ("my.template", "my-template"),
        ("-dns-", "dns"),
        ("web api", "web-api"),
    ],
)
def test_an_invalid_template_name_is_rejected_with_a_valid_suggestion(
    name: str, suggestion: str
) -> None:
    error = only(tuple(templates.validate_template_name(name)))
    assert error.field == "name"
    assert error.message == (
        f"invalid template name {name!r}: must consist of lower case alphanumeric characters "
        "or '-', and must start and end with an alphanumeric character"
    )
    assert error.fix == f"e.g. {suggestion!r}"


def test_a_template_name_longer_than_a_label_key_name_allows_is_rejected() -> None:
    name = "a" * 64
    error = only(tuple(templates.validate_template_name(name)))
    assert error.message == f"invalid template name {name!r}: must be no more than 63 characters"
    assert error.fix == f"e.g. {'a' * 63!r}"


def test_a_name_with_nothing_usable_gets_the_rule_as_fix() -> None:
    error = only(tuple(templates.validate_template_name("!!!")))
    assert error.fix == templates.TEMPLATE_NAME_RULE


def test_parsing_reports_a_bad_name_along_with_the_other_problems() -> None:
    found = problems("My_Template", "ingress: [{ports: [{port: 0}]}]")
    assert [error.field for error in found] == ["name", "ingress[0].ports[0].port"]


# --- Parsing ------------------------------------------------------------------------------


def test_a_template_with_ingress_and_egress_parses() -> None:
    template = templates.parse_template(
        "web",
        textwrap.dedent(
            """\
            description: Web servers that resolve names.
            ingress:
            - from:
              - namespaceSelector: {}
              ports:
              - protocol: TCP
                port: 80
            egress:
            - ports:
              - protocol: UDP
                port: 53
            """
        ),
    )
    assert template == templates.Template(
        name="web",
        description="Web servers that resolve names.",
        ingress=(WEB_INGRESS,),
        egress=(DNS_EGRESS,),
    )


def test_a_yaml_syntax_error_is_reported_with_line_and_column() -> None:
    error = only(problems("web", "ingress:\n- from: [\n"))
    assert error.field == ""
    assert error.message == (
        "invalid YAML at line 3, column 1: expected the node content, but found '<stream end>'"
    )


def test_tab_indentation_gets_a_spaces_hint() -> None:
    error = only(problems("web", "ingress:\n\t- ports: []\n"))
    assert error.message == (
        "invalid YAML at line 2, column 1: found character '\\t' that cannot start any token"
    )
    assert error.fix == "indent with spaces, not tabs"


def test_a_duplicate_key_is_rejected_instead_of_silently_dropping_rules() -> None:
    text = """\
        ingress:
        - ports: [{port: 80}]
        ingress:
        - ports: [{port: 443}]
        """
    error = only(problems("web", text))
    assert error.message == "invalid YAML at line 3, column 1: found duplicate key 'ingress'"
    assert error.fix == "keep one of them, merging their entries"


def test_a_duplicate_label_key_is_rejected() -> None:
    text = "ingress: [{from: [{podSelector: {matchLabels: {app: a, app: b}}}]}]"
    error = only(problems("web", text))
    assert error.message == "invalid YAML at line 1, column 56: found duplicate key 'app'"


def test_yaml_aliases_are_rejected() -> None:
    text = """\
        ingress:
        - from: &everyone
          - namespaceSelector: {}
        egress:
        - to: *everyone
        """
    error = only(problems("web", text))
    assert error.message == (
        "invalid YAML at line 5, column 7: aliases (*name) are not supported in templates"
    )
    assert error.fix == "write the repeated part out in full"


def test_an_empty_text_is_rejected() -> None:
    error = only(problems("web", ""))
    assert error.field == ""
    assert error.message == "the template is empty"
    assert error.fix == "give it ingress and/or egress rules"


@pytest.mark.parametrize(("text", "kind"), [("- ports: []", "a list"), ("allow all", "a string")])
def test_a_template_that_is_not_a_mapping_is_rejected(text: str, kind: str) -> None:
    error = only(problems("web", text))
    assert error.field == ""
    assert error.message == (
        f"a template must be a mapping with description, ingress and/or egress, got {kind}"
    )


def test_a_misspelt_top_level_field_is_rejected_with_a_suggestion() -> None:
    error = only(problems("web", "ingres:\n- ports: [{port: 80}]\n"))
    assert error.field == "ingres"
    assert error.message == "unknown field 'ingres'; allowed here: description, ingress, egress"
    assert error.fix == "did you mean 'ingress'?"


@pytest.mark.parametrize(
    ("field", "fix"),
    [
        (
            "podSelector",
            "netfence selects the pods of the controller the template is attached "
            "to; remove podSelector",
        ),
        (
            "policyTypes",
            "netfence derives policyTypes from the ingress and egress rules; remove it",
        ),
        ("spec", "a template holds only the rules: move spec.ingress and spec.egress to the top"),
    ],
)
def test_network_policy_fields_in_a_template_are_explained(field: str, fix: str) -> None:
    found = problems("web", f"{field}: {{}}\ningress: [{{}}]\n")
    error = only(found)
    assert error.field == field
    assert error.fix == fix


def test_a_description_must_be_a_string() -> None:
    error = only(problems("web", "description: 42\negress: [{}]\n"))
    assert error.field == "description"
    assert error.message == "must be a string, got an integer"
    assert error.fix == "quote it"


def test_a_null_description_is_rejected() -> None:
    error = only(problems("web", "description:\negress: [{}]\n"))
    assert error.field == "description"
    assert error.message == "must be a string, got null"
    assert error.fix == "write text after 'description:', or remove it"


def test_a_description_is_optional() -> None:
    assert templates.parse_template("web", "egress: [{}]").description == ""


def test_a_template_that_opens_no_traffic_is_rejected() -> None:
    error = only(problems("web", "description: nothing\ningress: []\negress: []\n"))
    assert error.field == ""
    assert error.message == "template opens no traffic: give ingress and/or egress rules"


def test_rule_errors_carry_ingress_and_egress_paths() -> None:
    text = """\
        ingress:
        - from:
          - podSelector: {matchLabels: {app: -web}}
        egress:
        - to:
          - ipBlock: {cidr: 10.0.0.1/8}
          ports:
          - {port: 9092, endPort: 9000}
        """
    found = problems("kafka", text)
    assert [error.field for error in found] == [
        "ingress[0].from[0].podSelector.matchLabels[app]",
        "egress[0].to[0].ipBlock.cidr",
        "egress[0].ports[0].endPort",
    ]


def test_a_yaml_boolean_label_value_must_be_quoted() -> None:
    # `yes` is a boolean in YAML 1.1, which PyYAML speaks; a label value must be text.
    text = "ingress: [{from: [{podSelector: {matchLabels: {enabled: yes}}}]}]"
    error = only(problems("web", text))
    assert error.field == "ingress[0].from[0].podSelector.matchLabels[enabled]"
    assert error.message == "label value must be a string, got a boolean"
    assert error.fix == (
        "quote it as written: YAML reads unquoted yes/no, on/off, true/false as booleans"
    )


def test_template_from_document_accepts_already_parsed_data() -> None:
    template = templates.template_from_document("web", {"ingress": [WEB_INGRESS]})
    assert template.ingress == (WEB_INGRESS,)


def test_template_from_document_rejects_with_every_problem() -> None:
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.template_from_document("Web", {"ingress": [{"from": [{}]}], "x": 1})
    assert [error.field for error in caught.value.errors] == ["name", "x", "ingress[0].from[0]"]


# --- The Template model -------------------------------------------------------------------


def test_policy_types_list_ingress_before_egress() -> None:
    both = templates.Template(name="t", ingress=(WEB_INGRESS,), egress=(DNS_EGRESS,))
    assert both.policy_types == ("Ingress", "Egress")
    assert templates.Template(name="t", ingress=(WEB_INGRESS,)).policy_types == ("Ingress",)
    assert templates.Template(name="t", egress=(DNS_EGRESS,)).policy_types == ("Egress",)


def test_constructing_an_invalid_template_raises_with_every_problem() -> None:
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.Template(name="BAD", ingress=({"ports": [{"port": 0}]},))
    assert [error.field for error in caught.value.errors] == ["name", "ingress[0].ports[0].port"]


def test_constructing_a_template_that_opens_nothing_raises() -> None:
    with pytest.raises(errors.InvalidTemplate, match="template opens no traffic"):
        templates.Template(name="empty")


def test_a_template_does_not_change_when_its_input_does() -> None:
    rule: rules.IngressRule = {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}
    template = templates.Template(name="t", ingress=(rule,))
    rule["from"][0]["podSelector"]["matchLabels"]["app"] = "db"
    assert template.ingress[0]["from"][0]["podSelector"]["matchLabels"] == {"app": "web"}


def test_to_document_returns_a_copy_to_edit() -> None:
    template = templates.Template(name="t", ingress=(WEB_INGRESS,))
    document = template.to_document()
    document["ingress"][0]["ports"] = []
    assert template.ingress[0]["ports"] == [{"protocol": "TCP", "port": 80}]


def test_to_document_leaves_out_empty_parts() -> None:
    assert templates.Template(name="t", egress=(DNS_EGRESS,)).to_document() == {
        "egress": [DNS_EGRESS]
    }


def test_a_template_is_frozen() -> None:
    template = templates.Template(name="t", egress=(DNS_EGRESS,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.name = "other"  # type: ignore[misc]


def test_replacing_a_field_validates_again() -> None:
    template = templates.Template(name="t", egress=(DNS_EGRESS,))
    with pytest.raises(errors.InvalidTemplate):
        dataclasses.replace(template, name="Not Valid")


def test_equal_templates_hash_equal_whatever_their_label_order() -> None:
    first = templates.Template(
        name="t", ingress=({"from": [{"podSelector": {"matchLabels": {"a": "1", "b": "2"}}}]},)
    )
    second = templates.Template(
        name="t", ingress=({"from": [{"podSelector": {"matchLabels": {"b": "2", "a": "1"}}}]},)
    )
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


def test_to_yaml_writes_block_style_with_a_fixed_key_order() -> None:
    template = templates.template_from_document(
        "web",
        {
            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}],
            "ingress": [
                {
                    "ports": [{"endPort": 8090, "port": 8080}],
                    "from": [{"ipBlock": {"except": ["10.1.0.0/16"], "cidr": "10.0.0.0/8"}}],
                }
            ],
            "description": "Web",
        },
    )
    assert template.to_yaml() == textwrap.dedent(
        """\
        description: Web
        ingress:
        - from:
          - ipBlock:
              cidr: 10.0.0.0/8
              except:
              - 10.1.0.0/16
          ports:
          - port: 8080
            endPort: 8090
        egress:
        - ports:
          - protocol: UDP
            port: 53
        """
    )


def test_to_yaml_writes_a_multi_line_description_as_a_literal_block() -> None:
    template = templates.Template(
        name="t", description="First line.\nSecond: line.\n", egress=(DNS_EGRESS,)
    )
    assert template.to_yaml().startswith("description: |\n  First line.\n  Second: line.\n")


def test_to_yaml_quotes_strings_that_would_read_as_other_types() -> None:
    template = templates.Template(
        name="t",
        ingress=({"from": [{"podSelector": {"matchLabels": {"enabled": "true", "v": "1"}}}]},),
    )
    assert "enabled: 'true'" in template.to_yaml()
    assert "v: '1'" in template.to_yaml()


def test_to_yaml_round_trips_through_parse_template() -> None:
    template = templates.Template(
        name="t",
        description="Both\nways",
        ingress=(WEB_INGRESS,),
        egress=({"to": [{"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}]},),
    )
    assert templates.parse_template("t", template.to_yaml()) == template


def test_to_document_round_trips_through_template_from_document() -> None:
    template = templates.Template(name="t", ingress=(WEB_INGRESS,), egress=(DNS_EGRESS,))
    assert templates.template_from_document("t", template.to_document()) == template


# --- Errors -------------------------------------------------------------------------------


def test_a_field_error_reads_field_message_and_fix() -> None:
    error = errors.FieldError("ingress[0].ports[1].endPort", "must be >= port", "swap them")
    assert str(error) == "ingress[0].ports[1].endPort: must be >= port (swap them)"
    assert str(errors.FieldError("name", "must not be empty")) == "name: must not be empty"
    assert str(errors.FieldError("", "the template is empty")) == "the template is empty"


def test_an_invalid_template_reads_as_a_list_of_its_problems() -> None:
    error = errors.InvalidTemplate(
        "web",
        [errors.FieldError("name", "bad"), errors.FieldError("ingress", "is empty (null)", "fix")],
    )
    assert str(error) == (
        "template 'web' is invalid (2 problems):\n  - name: bad\n  - ingress: is empty (null) (fix)"
    )
    single = errors.InvalidTemplate("web", [errors.FieldError("name", "bad")])
    assert str(single) == "template 'web' is invalid: name: bad"


def test_an_invalid_template_is_a_netfence_error_that_survives_pickling() -> None:
    error = errors.InvalidTemplate("web", [errors.FieldError("name", "bad", "fix")])
    assert isinstance(error, errors.NetfenceError)
    copied = pickle.loads(pickle.dumps(error))  # noqa: S301 -- data this test just made
    assert copied.template == "web"
    assert copied.errors == error.errors


# --- The catalog --------------------------------------------------------------------------


def test_one_broken_entry_never_hides_the_good_ones() -> None:
    catalog = templates.parse_catalog(
        {
            "web": "ingress: [{ports: [{port: 80}]}]",
            "broken": "ingress: [{ports: [{port: 0}]}]",
            "Bad Name": "egress: [{}]",
            "unreadable": "ingress: [",
        }
    )
    assert list(catalog.templates) == ["web"]
    assert sorted(catalog.broken) == ["Bad Name", "broken", "unreadable"]
    assert catalog.broken["broken"].errors[0].field == "ingress[0].ports[0].port"


def test_an_empty_catalog_has_nothing() -> None:
    catalog = templates.parse_catalog({})
    assert dict(catalog.templates) == {}
    assert dict(catalog.broken) == {}


def test_the_catalog_lists_templates_by_name_and_is_read_only() -> None:
    catalog = templates.parse_catalog({"b": "egress: [{}]", "a": "egress: [{}]"})
    assert list(catalog.templates) == ["a", "b"]
    with pytest.raises(TypeError):
        catalog.templates["c"] = catalog.templates["a"]  # type: ignore[index]


def test_a_catalog_key_must_match_its_templates_name() -> None:
    template = templates.Template(name="a", egress=(DNS_EGRESS,))
    with pytest.raises(ValueError, match="catalog key 'b' holds template 'a'"):
        templates.Catalog(templates={"b": template})


# --- Limits: one bad template is one invalid template, never a crash ---------------------

GOOD = "ingress: [{from: [{podSelector: {}}]}]"


def deep_block_lists(levels: int) -> str:
    # ingress:\n- - - ... as block sequences, each level indented under the previous one.
    lines = ["ingress:"] + [f"{'  ' * level}-" for level in range(levels)] + [f"{'  ' * levels}x"]
    return "\n".join(lines) + "\n"


def deep_block_maps(levels: int) -> str:
    lines = ["ingress:"] + [f"{'  ' * (level + 1)}a:" for level in range(levels)]
    return "\n".join(lines) + " 1\n"


def deep_flow(levels: int) -> str:
    return "ingress: " + "[" * levels + "]" * levels


def deep_flow_maps(levels: int) -> str:
    return "ingress: " + "{a: " * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (deep_block_lists(400), "ingress" + "[0]" * 31),
        (deep_block_maps(400), "ingress" + ".a" * 31),
        (deep_flow(5000), "ingress" + "[0]" * 31),
        (deep_flow_maps(3000), "ingress" + ".a" * 31),
        # About 2 KB, the size that used to freeze the controller's catalog.
        (deep_flow(1000), "ingress" + "[0]" * 31),
    ],
    ids=["block-lists", "block-maps", "flow-lists", "flow-maps", "2kb-flow"],
)
def test_a_deeply_nested_template_is_one_broken_template_with_a_field_error(
    text: str, field: str
) -> None:
    catalog = templates.parse_catalog({"deep": text, "web": GOOD})
    assert list(catalog.templates) == ["web"]
    error = only(catalog.broken["deep"].errors)
    assert error.field == field
    assert error.message.startswith(f"nested more than {templates.MAX_TEMPLATE_DEPTH} levels deep")
    assert error.fix is not None
    assert "at most 9 levels" in error.fix


def test_the_deep_flow_template_of_2kb_says_where_it_goes_too_deep() -> None:
    text = deep_flow(1000)
    assert len(text) > 2000
    error = only(problems("deep", text))
    # The document is level 1, so the 32nd '[' (column 9 + 32) opens level 33.
    assert error.message == "nested more than 32 levels deep (line 1, column 41)"


def test_nesting_up_to_the_limit_is_read_and_validated_as_usual() -> None:
    # 32 levels in all, the document being the first: validation explains the real mistake.
    error = only(problems("deep", deep_flow(31)))
    assert error.field == "ingress[0]"
    assert error.message == "must be a mapping, got a list"


def test_the_deepest_valid_template_is_well_within_the_limit() -> None:
    text = """\
        ingress:
        - from:
          - namespaceSelector:
              matchExpressions:
              - {key: team, operator: In, values: [a, b]}
        """
    template = templates.parse_template("deepest", textwrap.dedent(text))
    assert template.ingress[0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]


def test_an_already_parsed_deep_document_is_refused_before_it_is_walked() -> None:
    document: object = "x"
    for _ in range(100_000):  # far past Python's recursion limit
        document = [document]
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.template_from_document("deep", {"egress": document})
    error = only(caught.value.errors)
    assert error.field == "egress" + "[0]" * 31
    assert error.message == "nested more than 32 levels deep"


def test_a_template_text_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    # Unreadable YAML past the limit: the size is the one problem reported.
    text = "ingress: [" + " " * templates.MAX_TEMPLATE_TEXT_BYTES
    catalog = templates.parse_catalog({"huge": text, "web": GOOD})
    assert list(catalog.templates) == ["web"]
    error = only(catalog.broken["huge"].errors)
    assert error.field == ""
    assert error.message == "the template is 512.0 KiB of text; a template may hold at most 512 KiB"
    assert error.fix == "split its rules over several templates and attach them all"


def _peers(count: int) -> list[rules.NetworkPolicyPeer]:
    return [
        {"ipBlock": {"cidr": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32"}}
        for i in range(count)
    ]


def test_a_template_whose_snapshot_would_not_fit_on_a_policy_is_invalid() -> None:
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.Template(name="big", egress=({"to": _peers(8000)},))
    error = only(caught.value.errors)
    assert error.field == "egress"
    assert "annotation netfence.io/template-snapshot, would take 291.0 KiB," in error.message
    assert "at most 240 KiB fit (Kubernetes allows 256 KiB of annotations per object" in (
        error.message
    )
    assert error.fix == "split its rules over several templates and attach them all"


@pytest.mark.parametrize("letter", ["x", "ü"])  # "ü" takes 6 bytes as \\u00fc
def test_the_snapshot_limit_is_measured_on_the_text_policies_store(letter: str) -> None:
    from netfence.core import policies

    def made(length: int) -> templates.Template:
        return templates.Template(name="big", description=letter * length, egress=(DNS_EGRESS,))

    per_letter = len(json.dumps(letter)) - 2
    base = len(policies.snapshot_of(made(0)).encode()) + len(',"description":""')
    longest = (templates.MAX_SNAPSHOT_BYTES - base) // per_letter
    stored = len(policies.snapshot_of(made(longest)).encode())
    assert templates.MAX_SNAPSHOT_BYTES - per_letter < stored <= templates.MAX_SNAPSHOT_BYTES
    with pytest.raises(errors.InvalidTemplate) as caught:
        made(longest + 1)
    assert only(caught.value.errors).field == "description"


def test_a_too_large_template_in_the_catalog_leaves_the_others_working() -> None:
    text = f"description: {'x' * templates.MAX_SNAPSHOT_BYTES}\negress: [{{}}]\n"
    catalog = templates.parse_catalog({"big": text, "web": GOOD})
    assert list(catalog.templates) == ["web"]
    assert only(catalog.broken["big"].errors).field == "description"


def test_a_file_of_templates_is_read_by_the_same_rules_at_any_depth() -> None:
    text = "name: a\negress: [{}]\n---\nname: b\n" + deep_flow(1000) + "\n"
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.read_documents(text, origin="file.yaml")
    assert caught.value.template == "file.yaml"
    error = only(caught.value.errors)
    assert error.field == "document[1].ingress" + "[0]" * 31
    assert error.message.startswith("nested more than 32 levels deep (line 5")


def test_a_file_of_templates_gives_every_document() -> None:
    text = "name: a\negress: [{}]\n---\nname: b\ningress: [{}]\n"
    assert templates.read_documents(text, origin="f") == [
        {"name": "a", "egress": [{}]},
        {"name": "b", "ingress": [{}]},
    ]
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.read_documents("a: 1\na: 2\n", origin="f")
    assert "duplicate key 'a'" in only(caught.value.errors).message
