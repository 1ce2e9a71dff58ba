"""The benchmarks' generated cluster holds only objects the API server would accept."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from netfence.core import manifests

GENERATOR = Path(__file__).parents[2] / "benchmarks" / "connectivity_cluster.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("connectivity_cluster", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def problems(documents: list[Any]) -> tuple[str, ...]:
    try:
        manifests.read((f"doc{i}", d) for i, d in enumerate(documents))
    except manifests.InvalidManifests as e:
        return e.problems
    return ()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_generated_object_passes_netfences_own_validation(
    generator: ModuleType, seed: int
) -> None:
    # 42 namespaces: every kind of policy in the rotation, both ipBlocks, every team.
    documents = generator.manifests(namespaces=42, seed=seed)
    policies = list(generator.policies(documents))
    assert len(policies) == 5 * 42
    assert {p["metadata"]["name"] for p in policies} >= {"api-egress", "worker-egress"}
    assert problems(documents) == ()


def test_the_validation_would_refuse_an_except_outside_its_cidr(generator: ModuleType) -> None:
    documents = generator.manifests(namespaces=42)
    egress = next(p for p in generator.policies(documents) if p["metadata"]["name"] == "api-egress")
    block = egress["spec"]["egress"][2]["to"][0]["ipBlock"]
    block["except"] = ["192.168.3.0/24"]
    (problem,) = problems([egress])
    assert "spec.egress[2].to[0].ipBlock.except[0]" in problem


def test_the_shape_is_25_pods_a_namespace_and_a_policy_for_every_five(
    generator: ModuleType,
) -> None:
    inventory = manifests.read(
        (str(i), d) for i, d in enumerate(generator.manifests(namespaces=20))
    )
    assert (len(inventory.pods), len(inventory.policies)) == (500, 100)
    assert len({key for pod in inventory.pods for key in pod.declared()}) == 7
