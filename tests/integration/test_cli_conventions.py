"""kubectl's conventions, checked on real output against the local cluster: piped tables,
`-o wide|name|json|jsonpath`, `-A`, `-l`, camelCase documents, options after the
command, the context's namespace, did-you-mean, exit codes, completion, and what the
commands say when no controller holds the Lease."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment

from netfence.core import naming
from netfence.core.objects import WorkloadKind, WorkloadRef
from netfence.localcluster import ControlPlane
from netfence.usecases import attachments
from tests.integration import kube
from tests.integration.cli_fixtures import controller_process, netfence  # noqa: F401

ROOT = Path(__file__).parents[2]
# Keys under these hold data (labels, template bodies, manifests), not netfence's fields.
DATA_KEYS = {"labels", "create", "ingress", "egress", "skipped"}
# A policy made after the opt-in, named longer than a narrow terminal is wide.
LATE = "added-later-with-a-name-longer-than-a-narrow-terminal-is-wide"


@pytest.fixture
def kc(control_plane: ControlPlane, controller_process: None) -> Path:  # noqa: F811
    return control_plane.kubeconfig


def keys(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield f"{path}.{key}"
            if key not in DATA_KEYS:
                yield from keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner, f"{path}[]")


def columns_of(line: str, header: str) -> list[str]:
    """The cells of `line`, cut where the header's columns start (kubectl alignment)."""
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    ends = [*starts[1:], None]
    return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]


@pytest.fixture(scope="module")
async def managed(
    admin: AsyncClient,
    control_plane: ControlPlane,
    controller_process: None,  # noqa: F811
) -> str:
    """A managed namespace with a Deployment `frontend` and, made after the opt-in, a
    labelled policy of its own; shared by the module's tests, which leave it as it was."""
    kc = control_plane.kubeconfig
    ns = await kube.create_namespace(admin, kube.unique("conv"))
    await kube.create(admin, kube.deployment(ns, "frontend"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy"))
    enabled = netfence(kc, "enable", ns)
    assert enabled.returncode == 0, enabled.stderr
    late = kube.foreign_policy(ns, LATE)
    late["metadata"]["labels"] = {"team": "conventions"}
    await kube.create(admin, late)
    return ns


async def test_piped_tables_are_aligned_unwrapped_and_without_trailing_spaces(
    kc: Path, managed: str
) -> None:
    for args in (("status",), ("policies", "-n", managed), ("templates", "list")):
        result = netfence(kc, *args, env={"COLUMNS": "40"})
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        header = lines[0]
        assert header.startswith("NAME")
        assert all(line == line.rstrip() for line in lines), args
        assert all("\x1b" not in line for line in lines), "no colour when piped"
        width = len(columns_of(header, header))
        for line in lines[1:]:
            # Every row is one line: cut at the header's columns, it has a cell in each.
            cells = columns_of(line, header)
            assert len(cells) == width and all(cells), (args, line)
    policies = netfence(kc, "policies", "-n", managed, env={"COLUMNS": "40"}).stdout
    header, *rows = policies.splitlines()
    assert header.split() == [
        "NAME",
        "MADE-BY",
        "TEMPLATE",
        "CONTROLLER",
        "TEMPLATE-STATUS",
        "AGE",
    ]
    names = [columns_of(row, header)[0] for row in rows]
    assert LATE in names
    ages = [columns_of(row, header)[5] for row in rows]
    assert all(age[-1] in "smhdy" and age[:-1].rstrip("smhd").isdigit() for age in ages), ages


async def test_wide_name_jsonpath_all_namespaces_and_selectors(kc: Path, managed: str) -> None:
    wide = netfence(kc, "policies", "-n", managed, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[-2:] == ["ROLE", "POD-SELECTOR"]
    baseline = next(line for line in wide if line.startswith(naming.DENY_ALL_INGRESS))
    assert columns_of(baseline, wide[0])[-2:] == ["baseline", "(all pods)"]

    named = netfence(kc, "policies", "-n", managed, "-o", "name").stdout.splitlines()
    assert f"networkpolicy/{naming.DENY_ALL_INGRESS}" in named
    assert all(line.startswith("networkpolicy/") for line in named)

    path = '{range .items[?(@.managed==false)]}{.name}{"\\n"}{end}'
    unmanaged = netfence(kc, "policies", "-n", managed, "-o", f"jsonpath={path}")
    assert unmanaged.stdout.splitlines() == [LATE]

    everywhere = netfence(kc, "policies", "-A", "--no-headers").stdout.splitlines()
    assert any(line.split()[:2] == [managed, LATE] for line in everywhere)
    assert not any(line.startswith("NAMESPACE") for line in everywhere)

    selected = netfence(kc, "policies", "-A", "-l", "team=conventions", "-o", "json")
    items = json.loads(selected.stdout)["items"]
    assert (managed, LATE) in [(p["namespace"], p["name"]) for p in items]
    assert all(p["labels"] == {"team": "conventions"} for p in items)
    mine = netfence(kc, "policies", "-n", managed, "-l", "team notin (conventions)", "-o", "name")
    assert f"networkpolicy/{LATE}" not in mine.stdout.splitlines()
    assert f"networkpolicy/{naming.DENY_ALL_INGRESS}" in mine.stdout.splitlines()
    chosen = netfence(kc, "status", "-l", f"kubernetes.io/metadata.name={managed}", "-o", "name")
    assert chosen.stdout.splitlines() == [f"namespace/{managed}"]


async def test_every_document_has_a_version_a_kind_and_camel_case_keys(
    kc: Path, managed: str, tmp_path: Path
) -> None:
    template = ROOT / "docs/examples/web-8080.yaml"
    commands = [
        ("status",),
        ("policies", "-n", managed),
        ("policies", "-A"),
        ("templates", "list"),
        ("templates", "show", "http"),
        ("templates", "apply", "-f", str(template), "--dry-run"),
        ("enable", managed, "--dry-run"),
        ("disable", managed, "--dry-run", "--restore"),
        ("attach", "deployment/frontend", "http", "-n", managed, "--dry-run"),
        ("attach", "deployment/frontend", "http", "-n", managed),
        ("detach", "deployment/frontend", "http", "-n", managed),
        ("connectivity", "-n", managed, "--workloads"),
        ("explain", f"{managed}/frontend", f"{managed}/frontend", "-p", "80", "-w"),
        ("check",),
    ]
    kinds = set()
    for args in commands:
        for fmt in ("json", "yaml"):
            result = netfence(kc, *args, "-o", fmt)
            assert result.returncode == 0, (args, result.stderr)
            document = (json.loads if fmt == "json" else yaml.safe_load)(result.stdout)
            assert document["apiVersion"] == "netfence.io/v1", args
            kinds.add(document["kind"])
            snake = [k for k in keys(document) if "_" in k.rsplit(".", 1)[-1]]
            assert snake == [], (args, snake)
    assert kinds >= {
        "NamespaceList",
        "PolicyList",
        "TemplateList",
        "Template",
        "TemplateApplyResult",
        "EnablePreview",
        "DisablePreview",
        "AttachmentPreview",
        "AttachResult",
        "DetachResult",
        "Connectivity",
        "Explanation",
        "CheckResult",
    }


async def test_options_after_the_command_and_the_contexts_namespace(
    control_plane: ControlPlane, kc: Path, managed: str, tmp_path: Path
) -> None:
    after = netfence(None, "policies", "-n", managed, "--kubeconfig", str(kc), "-o", "name")
    assert after.returncode == 0, after.stderr
    before = netfence(None, "--kubeconfig", str(kc), "-n", managed, "-o", "name", "policies")
    assert before.stdout == after.stdout

    config = yaml.safe_load(kc.read_text())  # noqa: ASYNC240 - the CLI runs blocking anyway
    for context in config["contexts"]:
        context["context"]["namespace"] = managed
    own = tmp_path / "kubeconfig"
    own.write_text(yaml.safe_dump(config))
    default = netfence(own, "policies", "-o", "name")
    assert default.stdout == after.stdout


async def test_did_you_mean_and_errors_before_any_output(kc: Path, managed: str) -> None:
    for args in (
        ("attach", "deployment/frontnd", "http", "-n", managed, "--dry-run"),
        ("attach", "deployment/frontnd", "http", "-n", managed),
    ):
        result = netfence(kc, *args)
        assert result.returncode == 1
        assert result.stdout == ""  # no "would:" before the error
        assert "did you mean deployment/frontend?" in result.stderr
    shown = netfence(kc, "templates", "show", "htp")
    assert (shown.returncode, shown.stdout) == (1, "")
    assert "did you mean http or https?" in shown.stderr
    context = netfence(kc, "status", "--context", "netfence-locl")
    assert context.returncode == 1
    assert "did you mean netfence-local?" in context.stderr


async def test_enable_dry_run_of_a_managed_namespace_says_what_it_holds(
    kc: Path, managed: str
) -> None:
    again = netfence(kc, "enable", managed, "--dry-run")
    assert again.returncode == 0, again.stderr
    text = " ".join(again.stdout.split())
    assert "has no NetworkPolicies" not in text
    assert f"Namespace {managed} is already managed" in text
    # The policy made by someone after the opt-in is what enabling again would back up.
    assert f"back up 1 NetworkPolicies not made by netfence, then delete them: - {LATE}" in text


async def test_exit_codes(kc: Path, managed: str) -> None:
    assert netfence(kc, "status", "-o", "name").returncode == 0
    assert netfence(kc, "templates", "show", "nope").returncode == 1
    assert netfence(kc, "policies", "--nonsense").returncode == 2
    assert netfence(kc, "attach", "pod/x", "http", "-n", managed).returncode == 2
    # The local control plane runs no enforcing network plugin: a finding.
    assert netfence(kc, "check", "--fail-on-findings").returncode == 3
    assert netfence(kc, "check").returncode == 0


async def test_completion_reads_namespaces_templates_and_controllers(
    kc: Path, managed: str
) -> None:
    def complete(words: str) -> list[str]:
        result = netfence(
            kc,
            env={
                "_NETFENCE_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            },
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete(f"netfence policies -n {managed[:-2]}") == [managed]
    assert complete("netfence templates show http") == ["http", "https"]
    assert complete(f"netfence attach -n {managed} dep") == ["deployment/frontend"]


# --- no controller holds the Lease ----------------------------------------------------------


@pytest.fixture
async def leaderless(admin: AsyncClient, kc: Path) -> tuple[str, str]:
    """A netfence namespace of its own, with a catalog, where no controller ever ran, and
    a managed namespace with a Deployment `web`."""
    own = await kube.create_namespace(admin, kube.unique("nf"))
    template = ROOT / "docs/examples/web-8080.yaml"
    applied = netfence(kc, "--netfence-namespace", own, "templates", "apply", "-f", str(template))
    assert applied.returncode == 0, applied.stderr
    ns = await kube.create_namespace(admin, kube.unique("alone"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web"))
    return own, ns


async def test_without_a_controller_status_and_check_say_so(
    kc: Path, leaderless: tuple[str, str]
) -> None:
    own, _ = leaderless
    lease = f"{own}/{naming.LEADER_LEASE}"
    status = netfence(kc, "status", "--netfence-namespace", own)
    assert status.returncode == 0
    assert f"warning: no netfence controller is running: the Lease {lease} does not exist" in (
        " ".join(status.stderr.split())
    )
    check = netfence(kc, "check", "--netfence-namespace", own, "--fail-on-findings", "-o", "json")
    assert check.returncode == 3
    assert json.loads(check.stdout)["controller"]["live"] is False


async def test_without_a_controller_attach_says_so_at_once_and_what_it_left(
    kc: Path, admin: AsyncClient, leaderless: tuple[str, str]
) -> None:
    own, ns = leaderless
    started = time.monotonic()
    attached = netfence(
        kc, "attach", "deployment/web", "web-8080", "-n", ns, "--netfence-namespace", own
    )
    took = time.monotonic() - started
    said = " ".join(attached.stderr.split())
    assert attached.returncode == 1
    assert "no netfence controller is running" in said
    label = naming.template_label_key("web-8080")
    policy = attachments.policy_name(WorkloadRef(WorkloadKind.DEPLOYMENT, "web"), "web-8080")
    assert (
        f"the label stays on deployment/web and NetworkPolicy {ns}/{policy} will be created "
        f"when a controller runs; to undo: netfence detach deployment/web web-8080 -n {ns}"
    ) in said
    assert f"kubectl label deployment/web -n {ns} {label}-" in said
    # Told at once, not after the 15 s wait for a policy that will not come.
    assert took < 10, took
    deployment = await admin.get(Deployment, "web", namespace=ns)
    assert deployment.metadata is not None and deployment.metadata.labels is not None
    assert deployment.metadata.labels.get(label) == "true"

    detached = netfence(
        kc,
        "detach",
        "deployment/web",
        "web-8080",
        "-n",
        ns,
        "--netfence-namespace",
        own,
        "--wait",
        "0",
    )
    assert detached.returncode == 0  # --wait 0: nothing was waited for
    assert "but NetworkPolicy" in " ".join(detached.stderr.split())
    deployment = await admin.get(Deployment, "web", namespace=ns)
    assert deployment.metadata is not None
    assert label not in (deployment.metadata.labels or {})


async def test_without_a_controller_enable_and_disable_print_their_document_and_the_undo(
    kc: Path, admin: AsyncClient, leaderless: tuple[str, str]
) -> None:
    own, _ = leaderless
    ns = await kube.create_namespace(admin, kube.unique("alone-enable"))
    enabled = netfence(kc, "enable", ns, "--netfence-namespace", own, "-o", "json")
    assert enabled.returncode == 1
    document = json.loads(enabled.stdout)
    assert (document["kind"], document["finished"]) == ("EnableResult", None)
    said = " ".join(enabled.stderr.split())
    assert f"to undo: netfence disable {ns} (or kubectl label namespace {ns} " in said

    disabled = netfence(kc, "disable", ns, "--netfence-namespace", own, "-o", "json")
    assert disabled.returncode == 1
    document = json.loads(disabled.stdout)
    assert (document["kind"], document["wasManaged"]) == ("DisableResult", True)
    assert f"to undo: netfence enable {ns}" in " ".join(disabled.stderr.split())


def test_kubectl_runs_netfence_as_its_plugin(kc: Path) -> None:
    kubectl = shutil.which("kubectl")
    plugin = Path(sys.executable).parent / "kubectl-netfence"
    if kubectl is None or not plugin.exists():
        pytest.skip("needs kubectl and the installed kubectl-netfence script")
    env = {
        **os.environ,
        "KUBECONFIG": str(kc),
        "PATH": f"{plugin.parent}{os.pathsep}{os.environ['PATH']}",
    }
    listed = subprocess.run(
        [kubectl, "netfence", "templates", "list", "-o", "name"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "template/http" in listed.stdout.splitlines()
    usage = subprocess.run(
        [kubectl, "netfence", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Usage: kubectl netfence" in usage.stdout
