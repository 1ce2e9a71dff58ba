"""The `netfence` command as a person runs it, against the control plane and a real controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from netfence.composition import cluster_for
from netfence.core import errors, naming
from netfence.localcluster import ControlPlane, kubeconfig_for_user
from netfence.usecases import templates
from netfence.usecases.ports import StoredCatalog
from tests.integration import kube
from tests.integration.cli_fixtures import controller_process, netfence  # noqa: F401
from tests.integration.netfence_fixtures import NETFENCE_NS


@pytest.fixture
def kc(control_plane: ControlPlane, controller_process: None) -> Path:  # noqa: F811
    return control_plane.kubeconfig


async def test_status_shows_managed_state_and_unmanaged_policies(
    kc: Path, admin: AsyncClient
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("status"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy"))
    await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))

    table = netfence(kc, "status", "-o", "wide")
    assert table.returncode == 0, table.stderr
    assert "warning" not in table.stderr  # a controller holds the Lease
    row = next(line for line in table.stdout.splitlines() if line.startswith(ns))
    assert row.split() == [
        ns,
        "unmanaged",
        "0",
        "1",
        "1",
        row.split()[5],
        "0",
        "deployment/web:http",
    ]

    data = json.loads(netfence(kc, "status", "-o", "json").stdout)
    assert (data["apiVersion"], data["kind"]) == ("netfence.io/v1", "NamespaceList")
    assert data["controller"]["live"] is True
    (item,) = [n for n in data["items"] if n["name"] == ns]
    assert item["managed"] is False
    assert item["unmanagedPolicies"] == 1
    assert item["controllers"] == [{"kind": "Deployment", "name": "web", "templates": ["http"]}]


async def test_enable_previews_then_backs_up_and_disable_restores(
    kc: Path, admin: AsyncClient
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("cli-enable"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy-a"))

    preview = netfence(kc, "enable", ns, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "legacy-a" in preview.stdout
    assert "deny-all-ingress" in preview.stdout
    assert "nothing was changed" in preview.stdout
    assert await kube.policy_names(admin, ns) == {"legacy-a"}

    enabled = netfence(kc, "enable", ns)
    assert enabled.returncode == 0, enabled.stderr
    assert f"netfence manages {ns}" in enabled.stdout
    assert await kube.policy_names(admin, ns) == {
        naming.DENY_ALL_INGRESS,
        naming.ALLOW_NAMESPACE_COMMUNICATION,
    }

    disabled = netfence(kc, "disable", ns, "--restore")
    assert disabled.returncode == 0, disabled.stderr
    assert "restored legacy-a" in disabled.stdout
    assert await kube.policy_names(admin, ns) == {"legacy-a"}


def test_enable_refuses_system_namespaces(kc: Path) -> None:
    result = netfence(kc, "enable", "kube-system")
    assert result.returncode == 1
    assert "will not manage namespace kube-system" in result.stderr


async def test_attach_and_detach_report_the_policy(kc: Path, admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("cli-attach"), managed=True)
    await kube.create(admin, kube.deployment(ns, "api"))

    attached = netfence(kc, "attach", "deployment/api", "https", "-n", ns)
    assert attached.returncode == 0, attached.stderr
    assert attached.stderr == ""  # a controller holds the Lease: no warning
    assert f"NetworkPolicy {ns}/deploy-api-https created" in attached.stdout

    listing = json.loads(netfence(kc, "policies", "-n", ns, "-o", "json").stdout)
    (policy,) = [p for p in listing["items"] if p["name"] == "deploy-api-https"]
    assert policy["template"] == "https"
    assert policy["controller"] == "Deployment/api"
    assert policy["templateStatus"] == "current"

    detached = netfence(kc, "detach", "deploy/api", "https", "-n", ns)
    assert detached.returncode == 0, detached.stderr
    assert "deleted" in detached.stdout


async def test_attach_names_the_problem(kc: Path, admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("cli-bad"), managed=True)
    await kube.create(admin, kube.deployment(ns, "api"))
    unknown = netfence(kc, "attach", "deployment/api", "htps", "-n", ns)
    assert unknown.returncode == 1
    assert "template htps does not exist; did you mean https or http?" in unknown.stderr

    plain = await kube.create_namespace(admin, kube.unique("cli-plain"))
    refused = netfence(kc, "attach", "deployment/api", "https", "-n", plain)
    assert refused.returncode == 1
    assert f"netfence enable {plain}" in refused.stderr

    wrong_kind = netfence(kc, "attach", "pod/api", "https", "-n", ns)
    assert wrong_kind.returncode == 2
    assert "unknown controller kind 'pod'" in wrong_kind.stderr


def test_templates_apply_validates_every_field_before_writing(kc: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: cli-web\ndescription: web\ningress:\n- from:\n  - podSelecter: {}\n"
        "  ports:\n  - port: 80\n    endPort: 70\n"
    )
    result = netfence(kc, "templates", "apply", "-f", str(bad))
    assert result.returncode == 1
    assert "ingress[0].from[0]" in result.stderr
    assert "podSelecter" in result.stderr
    assert "ingress[0].ports[0].endPort" in result.stderr
    assert "cli-web" not in netfence(kc, "templates", "list").stdout

    good = tmp_path / "good.yaml"
    good.write_text("name: cli-web\ndescription: web on 8080\ningress:\n- ports:\n  - port: 8080\n")
    applied = netfence(kc, "templates", "apply", "-f", str(good))
    assert applied.returncode == 0, applied.stderr
    assert "template/cli-web created" in applied.stdout
    shown = netfence(kc, "templates", "show", "cli-web")
    assert "port: 8080" in shown.stdout

    deleted = netfence(kc, "templates", "delete", "cli-web")
    assert deleted.returncode == 0, deleted.stderr
    assert netfence(kc, "templates", "show", "cli-web").returncode == 1


def test_templates_export_round_trips_through_apply(kc: Path) -> None:
    exported = netfence(kc, "templates", "export")
    assert exported.returncode == 0, exported.stderr
    assert "name: dns" in exported.stdout
    applied = netfence(kc, "templates", "apply", "-f", "-", stdin=exported.stdout)
    assert applied.returncode == 0, applied.stderr
    assert "template/dns configured" in applied.stdout


async def test_a_concurrent_template_edit_is_refused_not_lost(kc: Path, admin: AsyncClient) -> None:
    reader = cluster_for(admin, netfence_namespace=NETFENCE_NS).reader

    async def catalog() -> StoredCatalog | None:
        found = await reader.catalog()
        return found if found.resource_version is not None else None

    stored = await kube.eventually(catalog)  # the controller creates it on start
    assert stored is not None
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {"someone-else": "egress:\n- ports:\n  - port: 1\n"}},
        namespace=NETFENCE_NS,
    )
    with pytest.raises(errors.Conflict, match="changed by someone else"):
        await templates.apply(
            cluster_for(admin, netfence_namespace=NETFENCE_NS),
            {"mine": "egress:\n- ports:\n  - port: 2\n"},
            resource_version=stored.resource_version,
        )
    after = await reader.catalog()
    assert "someone-else" in after.data
    assert "mine" not in after.data
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {"someone-else": None}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )


def test_a_user_without_rights_gets_a_clear_refusal(
    kc: Path, control_plane: ControlPlane, tmp_path: Path
) -> None:
    alice = kubeconfig_for_user(control_plane, "alice", tmp_path / "alice.kubeconfig")
    result = netfence(alice, "enable", "default")
    assert result.returncode == 1
    assert "you may not" in result.stderr.lower()
    assert "alice" in result.stderr
