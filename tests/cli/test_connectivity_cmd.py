"""`connectivity`, `explain` and `check` on files, as a user sees them (no cluster needed)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from netfence.cli.main import build
from netfence.composition import Runtime

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "shop.yaml"
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "KUBECONFIG": "/nonexistent"}


def netfence(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(build(Runtime()), list(args), env=ENV, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_the_matrix_has_a_table_per_declared_port_with_named_columns() -> None:
    code, stdout, _ = netfence("connectivity", "--from-files", str(EXAMPLE))
    assert code == 0
    lines = stdout.splitlines()
    start = lines.index("5432/TCP")
    assert lines[start + 1].split() == ["SOURCE", "shop/db"]
    assert [line.split() for line in lines[start + 2 : start + 6]] == [
        ["monitoring/prometheus", "✗"],
        ["shop/api", "✓"],
        ["shop/db", "✓"],  # a pod always reaches itself
        ["shop/web", "✗"],
    ]
    # The destinations are named over their column, aligned, without trailing spaces.
    header = lines[lines.index("8443/TCP") + 1]
    assert header.split() == ["SOURCE", "shop/api"]
    assert all(line == line.rstrip() for line in lines)
    # 6 between two pods, and each of the 4 pods to itself.
    assert "10 of 20 connections allowed." in stdout
    assert "traffic between a pod and its own node is always allowed and not shown" in " ".join(
        stdout.split()
    )


def test_the_json_matrix_has_one_verdict_per_pair_and_declared_port() -> None:
    code, stdout, _ = netfence("connectivity", "-f", str(EXAMPLE), "-o", "json")
    assert code == 0
    verdicts = json.loads(stdout)["verdicts"]
    # 4 sources x (1 + 2 + 1 + 1 declared ports of the 4 destinations), self included.
    assert len(verdicts) == 20
    assert verdicts[0] == {
        "source": "monitoring/prometheus",
        "destination": "monitoring/prometheus",
        "port": 9090,
        "protocol": "TCP",
        "allowed": True,
    }
    # Named ports appear as their number.
    assert {
        "source": "monitoring/prometheus",
        "destination": "shop/api",
        "port": 9100,
        "protocol": "TCP",
        "allowed": True,
    } in verdicts
    assert {(v["source"], v["destination"]) for v in verdicts if v["allowed"]} >= {
        ("shop/api", "shop/db"),
        ("shop/web", "shop/api"),
    }


def test_the_matrix_can_be_narrowed_to_a_namespace() -> None:
    code, stdout, _ = netfence("connectivity", "-f", str(EXAMPLE), "-n", "shop", "-o", "json")
    assert code == 0
    verdicts = json.loads(stdout)["verdicts"]
    assert len(verdicts) == 12
    assert all(v["source"].startswith("shop/") for v in verdicts)


def test_the_workload_matrix_reads_controllers_from_stdin(tmp_path: Path) -> None:
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api, ports: [{containerPort: 8443}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec: {containers: [{name: r, image: r}], restartPolicy: OnFailure}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
"""
    code, stdout, _ = netfence(
        "connectivity", "--workloads", "-f", "-", "-o", "json", stdin=manifest
    )
    assert code == 0
    assert json.loads(stdout)["verdicts"] == [
        {
            "source": "shop/CronJob/report",
            "destination": "shop/Deployment/api",
            "port": 8443,
            "protocol": "TCP",
            "allowed": False,
        },
        {
            "source": "shop/Deployment/api",
            "destination": "shop/Deployment/api",
            "port": 8443,
            "protocol": "TCP",
            "allowed": True,
        },
    ]


def test_explain_says_why_in_words() -> None:
    code, stdout, _ = netfence(
        "explain", "monitoring/prometheus", "shop/db", "--port", "5432", "-f", str(EXAMPLE)
    )
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == "monitoring/prometheus → shop/db on 5432/TCP: denied"
    assert lines[1] == (
        "egress from monitoring/prometheus is not restricted: no NetworkPolicy with policyType "
        "Egress selects it"
    )
    assert "ingress to shop/db is denied" in lines[2]
    assert any("shop/api-to-db ingress[0]: the port matches" in line for line in lines)


def test_explain_as_json_resolves_a_named_port() -> None:
    code, stdout, _ = netfence(
        "explain", "shop/web", "shop/api", "--port", "https", "-f", str(EXAMPLE), "-o", "json"
    )
    assert code == 0
    document = json.loads(stdout)
    assert (document["port"], document["allowed"]) == (8443, True)
    (rule,) = [r for r in document["ingress"]["rules"] if r["allows"]]
    assert rule["policy"] == "shop/web-to-api"


def test_explain_names_a_missing_pod_with_exit_code_1() -> None:
    code, _, stderr = netfence(
        "explain", "shop/nope", "shop/db", "--port", "80", "-f", str(EXAMPLE)
    )
    assert code == 1
    assert "there is no pod or controller nope in namespace shop" in stderr


def test_check_lists_findings_with_objects_and_fixes() -> None:
    code, stdout, _ = netfence("check", "-f", str(EXAMPLE))
    assert code == 0
    assert "egress-without-dns" in stdout
    assert "objects: NetworkPolicy shop/api-egress, shop/api" in stdout
    assert "peers-ored-where-and-was-likely-meant" in stdout
    assert "fix: if you meant pods matching app=prometheus in namespaces matching" in stdout
    assert "plugin check needs a live cluster" in stdout


def test_check_fails_on_findings_only_when_asked() -> None:
    code, stdout, _ = netfence("check", "-f", str(EXAMPLE), "-o", "json", "--fail-on-findings")
    assert code == 3
    document = json.loads(stdout)
    assert (document["apiVersion"], document["kind"]) == ("netfence.io/v1", "CheckResult")
    kinds = [f["kind"] for f in json.loads(stdout)["findings"]]
    assert kinds == [
        "egress-without-dns",
        "pod-selector-matches-nothing",
        "peers-ored-where-and-was-likely-meant",
    ]


def test_a_typo_in_a_file_is_reported_with_its_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "kind: NetworkPolicy\nmetadata: {name: x, namespace: a}\n"
        "spec:\n  podSelector: {}\n  ingress:\n  - from: [{podSelecter: {}}]\n"
    )
    code, _, stderr = netfence("connectivity", "-f", str(bad))
    assert code == 1
    assert f"{bad}: NetworkPolicy a/x: spec.ingress[0].from[0]" in stderr
    assert "podSelector" in stderr


def test_more_paths_after_from_files_are_read_too(tmp_path: Path) -> None:
    (tmp_path / "pods").mkdir()
    (tmp_path / "pods" / "a.yaml").write_text(
        "kind: Pod\nmetadata: {name: a, namespace: x}\n"
        "spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}\n"
    )
    other = tmp_path / "b.json"
    other.write_text(json.dumps({"kind": "Pod", "metadata": {"name": "b", "namespace": "x"}}))
    code, stdout, _ = netfence(
        "connectivity", "-f", str(tmp_path / "pods"), str(other), "-o", "json"
    )
    assert code == 0
    assert [v["source"] for v in json.loads(stdout)["verdicts"]] == ["x/a", "x/b"]
    code, _, stderr = netfence("connectivity", str(other))
    assert code == 2
    assert "files are read with --from-files" in stderr


def test_the_compact_json_lists_each_row_once_and_points_sources_at_them() -> None:
    code, stdout, _ = netfence("connectivity", "-f", str(EXAMPLE), "-o", "json", "--compact")
    assert code == 0
    document = json.loads(stdout)
    names = document["endpoints"]
    assert names == ["monitoring/prometheus", "shop/api", "shop/db", "shop/web"]
    ports = [(p["port"], p["protocol"]) for p in document["ports"]]
    assert ports == [(5432, "TCP"), (8080, "TCP"), (8443, "TCP"), (9090, "TCP"), (9100, "TCP")]
    assert document["ports"][0]["declaredBy"] == [names.index("shop/db")]

    def reaches(source: str, port: int) -> list[str]:
        row = document["allowed"][names.index(source)][ports.index((port, "TCP"))]
        return [names[d] for d in document["rows"][row]]

    assert reaches("shop/api", 5432) == ["shop/db"]
    assert reaches("shop/web", 8443) == ["shop/api"]
    assert reaches("monitoring/prometheus", 9100) == ["shop/api"]
    assert reaches("monitoring/prometheus", 5432) == []
    # One line per row and per source, so a large matrix stays readable with grep.
    assert len(stdout.splitlines()) == 2 + (1 + len(document["rows"]) + 1) + (1 + 4 + 1)


def test_compact_is_refused_for_the_table() -> None:
    code, stdout, stderr = netfence("connectivity", "-f", str(EXAMPLE), "--compact")
    assert code == 2
    assert stdout == ""
    assert "--compact is a form of -o json" in stderr


def test_a_label_yaml_reads_as_a_boolean_is_refused_with_how_to_quote_it(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "shop.yaml"
    bad.write_text(
        "kind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: on\n---\n"
        "kind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  podSelector:\n    matchExpressions: [{operator: Exists}]\n"
    )
    code, stdout, stderr = netfence("connectivity", "-f", str(bad), "-o", "json")
    assert code == 1  # an error, not a command line that cannot be read (docs/cli.md)
    assert stdout == ""
    message = " ".join(stderr.split())
    assert (
        f"{bad} document 1: Namespace shop: metadata.labels[team]: label value must be a "
        'string, got a boolean (line 5: YAML reads on as a boolean; quote it: "on")'
    ) in message
    assert (
        f"{bad} document 2: NetworkPolicy shop/p: spec.podSelector.matchExpressions[0].key: "
        "is required"
    ) in message
