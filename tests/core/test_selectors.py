"""Label selectors as metav1 defines them, matched one by one and through the index."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from netfence.core import bitsets, selectors


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selectors.parse(selector).matches(labels)


def test_the_empty_selector_matches_everything() -> None:
    assert matches({}, {})
    assert matches({}, {"app": "web"})
    assert str(selectors.parse({})) == "(all)"


def test_match_labels_need_every_pair() -> None:
    selector = {"matchLabels": {"app": "web", "tier": "front"}}
    assert matches(selector, {"app": "web", "tier": "front", "x": "y"})
    assert not matches(selector, {"app": "web"})
    assert not matches(selector, {"app": "web", "tier": "back"})


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        ("In", ["a", "b"], {"k": "a"}, True),
        ("In", ["a", "b"], {"k": "c"}, False),
        ("In", ["a", "b"], {}, False),
        ("NotIn", ["a", "b"], {"k": "c"}, True),
        ("NotIn", ["a", "b"], {"k": "a"}, False),
        ("NotIn", ["a", "b"], {}, True),  # a missing key is "not in" any set
        ("Exists", [], {"k": ""}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"k": "a"}, False),
    ],
)
def test_each_operator_follows_metav1(
    operator: str, values: list[str], labels: dict[str, str], expected: bool
) -> None:
    expression: dict[str, Any] = {"key": "k", "operator": operator}
    if values:
        expression["values"] = values
    assert matches({"matchExpressions": [expression]}, labels) is expected


def test_match_labels_and_expressions_are_anded() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}],
    }
    assert matches(selector, {"app": "web", "env": "prod"})
    assert not matches(selector, {"app": "web", "env": "dev"})
    assert not matches(selector, {"app": "api", "env": "prod"})


@pytest.mark.parametrize(
    "expression",
    [
        {"key": "k", "operator": "in", "values": ["a"]},  # operators are case-sensitive
        {"key": "k", "operator": "In"},  # In needs values
        {"key": "k", "operator": "Exists", "values": ["a"]},  # Exists takes none
    ],
)
def test_an_invalid_requirement_matches_nothing(expression: dict[str, Any]) -> None:
    assert not matches({"matchExpressions": [expression]}, {"k": "a"})
    assert not matches({"matchExpressions": [expression]}, {})


def test_selectors_print_in_kubectl_syntax() -> None:
    selector = selectors.parse(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["dev", "test"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(selector) == "app=web,env notin (dev,test),!legacy"


def test_the_order_selectors_are_written_in_does_not_matter() -> None:
    one = selectors.parse({"matchLabels": {"a": "1", "b": "2"}})
    two = selectors.parse({"matchLabels": {"b": "2", "a": "1"}})
    assert one == two
    assert hash(one) == hash(two)


def test_the_index_selects_exactly_what_matching_one_by_one_selects() -> None:
    rng = random.Random(4)  # noqa: S311 - reproducible test data, not secrets
    keys, values = ["app", "tier", "env"], ["a", "b", "c"]
    label_sets = [{k: rng.choice(values) for k in keys if rng.random() < 0.6} for _ in range(200)]
    index = selectors.LabelIndex(label_sets)
    operators = ["In", "NotIn", "Exists", "DoesNotExist"]
    for key, operator, chosen in itertools.product(keys, operators, [["a"], ["a", "c"]]):
        expression: dict[str, Any] = {"key": key, "operator": operator}
        if operator in ("In", "NotIn"):
            expression["values"] = chosen
        for extra in ({}, {"matchLabels": {"env": "b"}}):
            selector = selectors.parse({**extra, "matchExpressions": [expression]})
            expected = [i for i, labels in enumerate(label_sets) if selector.matches(labels)]
            assert bitsets.indices(index.select(selector)) == expected


def test_bitsets_round_trip_through_indices() -> None:
    members = [0, 1, 7, 8, 63, 64, 999]
    bits = bitsets.from_indices(members, 1000)
    assert bitsets.indices(bits) == members
    assert bitsets.indices(0) == []
    assert bitsets.contains(bits, 64)
    assert not bitsets.contains(bits, 65)
