"""Size and depth limits against a real API server: a backup over 1 MiB, a template too
large or too deep, an event whose message is too long for one Event."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from netfence.composition import cluster_for
from netfence.core import backups, errors, naming, templates
from netfence.core.objects import JsonDict, Phase
from netfence.core.planning import Notice, Severity, WriteBackup
from netfence.kube.reading import LiveReader
from netfence.kube.writing import KubeWriter
from netfence.usecases import namespaces
from netfence.usecases import templates as template_cases
from tests.integration import kube
from tests.integration.netfence_fixtures import NETFENCE_NS, running_controller

logger = logging.getLogger(__name__)

DEFAULTS = {naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION}


def big_policy(namespace: str, name: str, *, seed: int, blocks: int = 1300) -> dict[str, Any]:
    """A valid NetworkPolicy of about 50 KB as YAML: ``blocks`` ipBlock peers."""
    peers = [
        {"ipBlock": {"cidr": f"10.{seed % 256}.{i // 256 % 256}.{i % 256}/32"}}
        for i in range(blocks)
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "big"}},
        "spec": {
            "podSelector": {"matchLabels": {"app": name}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": 5432}]}],
        },
    }


CREATED: list[str] = []


@pytest.fixture(scope="module", autouse=True)
async def remove_what_this_module_made(admin: AsyncClient) -> AsyncIterator[None]:
    """Megabytes of policies and backups would slow every later controller's start (it
    lists and plans them all): they go with this module."""
    yield
    for ns in CREATED:
        # Unmanaged first, so no controller recreates what is deleted next.
        with contextlib.suppress(ApiError):
            await kube.set_namespace_label(admin, ns, None)
        async for policy in admin.list(NetworkPolicy, namespace=ns):
            if policy.metadata and policy.metadata.name:
                with contextlib.suppress(ApiError):
                    await admin.delete(NetworkPolicy, policy.metadata.name, namespace=ns)
        for name in await backup_config_maps(admin, ns):
            with contextlib.suppress(ApiError):
                await admin.delete(ConfigMap, name, namespace=NETFENCE_NS)
        with contextlib.suppress(ApiError):
            await admin.delete(Namespace, ns)


async def namespace_with_big_policies(admin: AsyncClient, prefix: str, count: int) -> str:
    ns = await kube.create_namespace(admin, kube.unique(prefix))
    CREATED.append(ns)
    for index in range(count):
        await kube.create(admin, big_policy(ns, f"db-{index:02d}", seed=index))
    return ns


async def backup_config_maps(admin: AsyncClient, ns: str) -> dict[str, ConfigMap]:
    return {
        c.metadata.name: c
        async for c in admin.list(
            ConfigMap, namespace=NETFENCE_NS, labels={naming.BACKUP_OF_LABEL: ns}
        )
        if c.metadata and c.metadata.name
    }


def annotations_of(config_map: ConfigMap | None) -> dict[str, str]:
    if config_map is None or config_map.metadata is None:
        return {}
    return dict(config_map.metadata.annotations or {})


async def phase(admin: AsyncClient, ns: str) -> str | None:
    return annotations_of(await kube.backup(admin, ns, NETFENCE_NS)).get(naming.PHASE_ANNOTATION)


def data_size(config_map: ConfigMap) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in (config_map.data or {}).items())


async def specs(admin: AsyncClient, ns: str) -> dict[str, tuple[dict[str, str], JsonDict]]:
    return {
        p.metadata.name: (dict(p.metadata.labels or {}), p.spec.to_dict() if p.spec else {})
        async for p in admin.list(NetworkPolicy, namespace=ns)
        if p.metadata and p.metadata.name
    }


# --- A backup over 1 MiB ------------------------------------------------------------------


async def test_an_opt_in_over_1_mib_is_backed_up_over_several_configmaps_and_restored(
    admin: AsyncClient,
) -> None:
    ns = await namespace_with_big_policies(admin, "big-optin", 40)
    before = await specs(admin, ns)
    assert len(before) == 40

    async with running_controller(admin):
        started = time.monotonic()
        await kube.set_namespace_label(admin, ns, "true")

        async def converged() -> bool:
            return (
                await kube.policy_names(admin, ns) == DEFAULTS
                and await phase(admin, ns) == "adopted"
            )

        await kube.eventually(converged, timeout=90, interval=0.2)
        elapsed = time.monotonic() - started

        stored = await backup_config_maps(admin, ns)
        head = stored[naming.backup_configmap_name(ns)]
        total = sum(data_size(c) for c in stored.values())
        logger.warning(
            "opt-in of %d policies (%.2f MiB of backup) took %.1fs, %d ConfigMaps",
            len(before),
            total / 2**20,
            elapsed,
            len(stored),
        )
        assert total > 2**20
        assert len(stored) >= 3
        assert annotations_of(head)[naming.BACKUP_PARTS_ANNOTATION] == str(len(stored))
        assert all(data_size(c) <= backups.PART_DATA_BYTES for c in stored.values())
        keys = [key for c in stored.values() for key in (c.data or {})]
        assert sorted(keys) == sorted(f"{name}.yaml" for name in before)
        reasons = await kube.event_reasons(admin, ns)
        head_name = naming.backup_configmap_name(ns)
        assert reasons["PoliciesBackedUp"] == [
            f"Backed up 40 existing NetworkPolicies to {len(stored)} ConfigMaps ({head_name} "
            "and its parts)"
        ]
        backup = await LiveReader(admin, netfence_namespace=NETFENCE_NS).backup(ns)
        assert backup is not None
        assert backup.phase is Phase.ADOPTED
        assert sorted(backup.entries) == sorted(before)

        result = await namespaces.disable(
            cluster_for(admin, netfence_namespace=NETFENCE_NS), ns, restore=True
        )

    assert result.restore is not None
    assert sorted(result.restore.restored) == sorted(before)
    assert result.restore.skipped == {}
    assert await specs(admin, ns) == before


async def test_a_missing_part_blocks_the_namespace_and_nothing_is_deleted_until_it_is_back(
    admin: AsyncClient,
) -> None:
    ns = await namespace_with_big_policies(admin, "big-part-gone", 24)  # two ConfigMaps
    async with running_controller(admin) as controller:
        await kube.set_namespace_label(admin, ns, "true")

        async def adopted() -> bool:
            return await phase(admin, ns) == "adopted"

        await kube.eventually(adopted, timeout=60, interval=0.2)
        stored = await backup_config_maps(admin, ns)
        assert len(stored) == 2
        (part_name,) = (name for name in stored if name != naming.backup_configmap_name(ns))
        part = stored[part_name]

        # A policy someone adds after the opt-in stays (the namespace is adopted) ...
        await kube.create(admin, kube.foreign_policy(ns, "late"))
        # ... and half a backup must not make it look like an opt-in to redo.
        await admin.delete(ConfigMap, part_name, namespace=NETFENCE_NS)

        async def refused() -> list[str]:
            return [
                message
                for message in (await kube.event_reasons(admin, ns)).get("ReconcileFailed", [])
                if "is incomplete" in message
            ]

        (message,) = await kube.eventually(refused, timeout=30)
        assert f"ConfigMap {part_name} is missing in {NETFENCE_NS}" in message
        assert f"kubectl delete configmap -n {NETFENCE_NS} -l {naming.BACKUP_OF_LABEL}={ns}" in (
            message
        )
        assert await LiveReader(admin, netfence_namespace=NETFENCE_NS).backup(ns) is None
        assert await kube.policy_names(admin, ns) == {*DEFAULTS, "late"}
        assert set(await backup_config_maps(admin, ns)) == {naming.backup_configmap_name(ns)}

        # Put back, the backup is whole again and netfence goes on as before.
        assert part.metadata is not None
        await admin.create(
            ConfigMap(
                metadata=ObjectMeta(
                    name=part_name,
                    namespace=NETFENCE_NS,
                    labels=part.metadata.labels,
                    annotations=part.metadata.annotations,
                ),
                data=part.data,
            )
        )

        async def whole() -> bool:
            return controller.cache.state(ns).backup is not None

        await kube.eventually(whole, timeout=10)
        backup = await LiveReader(admin, netfence_namespace=NETFENCE_NS).backup(ns)
        assert backup is not None
        assert len(backup.entries) == 24
        assert await kube.policy_names(admin, ns) == {*DEFAULTS, "late"}


async def test_a_smaller_backup_removes_the_parts_it_no_longer_needs(admin: AsyncClient) -> None:
    # No controller runs here: the writer alone, for a namespace that does not exist.
    ns = kube.unique("ghost")
    CREATED.append(ns)
    writer = KubeWriter(admin, netfence_namespace=NETFENCE_NS)
    entries = {
        f"db-{i:02d}": big_policy(ns, f"db-{i:02d}", seed=i) for i in range(45)
    }  # about 2.2 MiB
    await writer.write_backup(WriteBackup(ns, Phase.PRUNING, entries))
    large = await backup_config_maps(admin, ns)
    assert len(large) == backups.part_count(entries) == 3

    # Another phase for the same entries rewrites the head only.
    await writer.write_backup(WriteBackup(ns, Phase.ADOPTED, entries))
    again = await backup_config_maps(admin, ns)
    assert set(again) == set(large)
    versions = {name: c.metadata.resourceVersion for name, c in large.items() if c.metadata}
    for name, config_map in again.items():
        assert config_map.metadata is not None
        unchanged = config_map.metadata.resourceVersion == versions[name]
        assert unchanged == (name != naming.backup_configmap_name(ns)), name

    small = {name: entries[name] for name in ("db-00", "db-01")}
    await writer.write_backup(WriteBackup(ns, Phase.RELEASED, small))
    (head,) = (await backup_config_maps(admin, ns)).values()
    assert head.metadata is not None
    assert head.metadata.name == naming.backup_configmap_name(ns)
    assert head.metadata.annotations == {naming.PHASE_ANNOTATION: "released"}
    assert sorted(head.data or {}) == ["db-00.yaml", "db-01.yaml"]
    backup = await LiveReader(admin, netfence_namespace=NETFENCE_NS).backup(ns)
    assert backup is not None
    assert dict(backup.entries) == small


# --- Templates too large or too deep ------------------------------------------------------


async def test_a_template_over_the_snapshot_limit_is_refused_at_apply(admin: AsyncClient) -> None:
    cluster = cluster_for(admin, netfence_namespace=NETFENCE_NS)
    peers = "".join(
        f"  - ipBlock: {{cidr: 10.{i // 65536}.{i // 256 % 256}.{i % 256}/32}}\n"
        for i in range(8000)
    )
    text = f"egress:\n- to:\n{peers}"
    with pytest.raises(errors.InvalidTemplate) as caught:
        await template_cases.apply(cluster, {"limits-too-big": text})
    (error,) = caught.value.errors
    assert error.field == "egress"
    assert "annotation netfence.io/template-snapshot, would take 291.0 KiB" in error.message
    assert "at most 240 KiB fit" in error.message
    stored = await cluster.reader.catalog()
    assert "limits-too-big" not in stored.data


async def test_a_deeply_nested_template_is_one_broken_template_everywhere(
    admin: AsyncClient,
) -> None:
    deep = "ingress: " + "[" * 1000 + "]" * 1000  # about 2 KB
    patch = {"data": {"limits-deep": deep}}
    async with running_controller(admin) as controller:
        await admin.patch(
            ConfigMap,
            naming.TEMPLATES_CONFIGMAP,
            patch,
            namespace=NETFENCE_NS,
            patch_type=PatchType.MERGE,
        )
        try:

            async def cached() -> bool:
                return "limits-deep" in controller.cache.catalog.broken

            await kube.eventually(cached)
            # The controller goes on: the other templates are still attached.
            ns = await kube.create_namespace(admin, kube.unique("deep"), managed=True)
            await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
            await kube.wait_for_policy(
                admin, ns, naming.attachment_policy_name("Deployment", "web", "http")
            )
            listing = await template_cases.listing(
                cluster_for(admin, netfence_namespace=NETFENCE_NS)
            )
            broken = dict(listing.broken)["limits-deep"]
            assert broken.errors[0].field.startswith("ingress[0][0]")
            assert broken.errors[0].message.startswith("nested more than 32 levels deep")
            assert "http" in {t.name for t in listing.templates}
        finally:
            await admin.patch(
                ConfigMap,
                naming.TEMPLATES_CONFIGMAP,
                {"data": {"limits-deep": None}},
                namespace=NETFENCE_NS,
                patch_type=PatchType.MERGE,
            )
    assert templates.MAX_TEMPLATE_DEPTH == 32


# --- Events -------------------------------------------------------------------------------


async def test_an_event_over_the_limit_keeps_its_cause_and_shortens_the_list(
    admin: AsyncClient,
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("long-event"))
    names = ", ".join(f"db-{i:02d}" for i in range(300))
    cause = "the API server is unreachable; will retry (nothing after the backup was done)"
    message = f"could not record backup of {ns} (pruning): {names}: {cause}"
    assert len(message) > 2000
    writer = KubeWriter(admin, netfence_namespace=NETFENCE_NS)
    await writer.publish(
        Notice("Namespace", None, ns, Severity.WARNING, "ReconcileFailed", message)
    )
    (posted,) = (await kube.event_reasons(admin, ns))["ReconcileFailed"]
    assert len(posted.encode()) <= 1024
    assert posted.startswith(f"could not record backup of {ns} (pruning): db-00, db-01, ")
    assert posted.endswith(f" more): {cause}")
    assert ", … (+" in posted
