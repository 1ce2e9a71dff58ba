"""kubectl's conventions, as the CLI prints and parses them, without a cluster."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from netfence.cli import arguments, jsonpaths, output
from netfence.cli.main import build
from netfence.cli.output import Column, Format
from netfence.composition import Runtime
from netfence.core import selectors, suggestions

ROOT = Path(__file__).parents[2]


def netfence(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {"COLUMNS": "40", "NO_COLOR": "1", "KUBECONFIG": "/nonexistent", **(env or {})}
    result = CliRunner().invoke(build(Runtime()), list(args), env=environment)
    return result.exit_code, result.stdout, result.stderr


def kubeconfig(path: Path, *, server: str = "https://127.0.0.1:1", namespace: str = "") -> Path:
    context: dict[str, str] = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "prod-eu1", "context": context},
                    {"name": "dev", "context": context},
                ],
                "current-context": "dev",
            }
        )
    )
    return path


# --- options before or after the command ---------------------------------------------------


def group() -> object:
    return typer.main.get_command(build(Runtime()))


@pytest.mark.parametrize(
    ("given", "read"),
    [
        (
            ["controller", "--kubeconfig", "k"],
            ["--kubeconfig", "k", "controller"],
        ),
        (
            ["serve", "--kubeconfig=k", "--port", "9"],
            ["--kubeconfig=k", "serve", "--port", "9"],
        ),
        (
            ["-n", "shop", "policies", "--context", "dev", "-o", "wide"],
            ["--context", "dev", "policies", "-n", "shop", "-o", "wide"],
        ),
        (
            ["-ojson", "templates", "list", "--netfence-namespace", "nf"],
            ["--netfence-namespace", "nf", "templates", "list", "-ojson"],
        ),
        (
            ["-A", "--no-headers", "policies"],
            ["policies", "-A", "--no-headers"],
        ),
        # Nothing after `--` moves, and a command's own options stay where they are.
        (
            ["connectivity", "-f", "a.yaml", "--", "--context"],
            ["connectivity", "-f", "a.yaml", "--", "--context"],
        ),
    ],
)
def test_options_are_read_before_or_after_the_command(given: list[str], read: list[str]) -> None:
    assert arguments.normalize(given, group()) == read


def test_the_readme_form_of_controller_and_serve_is_accepted() -> None:
    for command in ("controller", "serve"):
        code, _, stderr = netfence(command, "--kubeconfig", "/nonexistent/kubeconfig", "--help")
        assert code == 0, stderr


# --- tables --------------------------------------------------------------------------------


def test_tables_are_aligned_never_wrapped_and_have_no_trailing_spaces() -> None:
    long = "allow-namespace-communication-of-a-rather-long-policy-name"
    lines = [
        line.plain
        for line in output.table_lines(
            [Column("NAME"), Column("MADE-BY"), Column("TEMPLATE")],
            [[long, "netfence", ""], ["b", ("unmanaged", "yellow"), "http"]],
        )
    ]
    assert lines == [
        "NAME" + " " * (len(long) - 4 + 3) + "MADE-BY     TEMPLATE",
        long + "   netfence    <none>",
        "b" + " " * (len(long) - 1 + 3) + "unmanaged   http",
    ]


def test_a_cell_is_one_line_whatever_it_holds() -> None:
    (line,) = output.table_lines([Column("A"), Column("B")], [["x\ny", "z\tw"]], headers=False)
    assert line.plain == "x y   z w"


def test_wide_columns_show_with_wide_only() -> None:
    columns = [Column("NAME"), Column("ROLE", wide=True)]
    rows = [["a", "baseline"]]
    assert [x.plain for x in output.table_lines(columns, rows)] == ["NAME", "a"]
    assert [x.plain for x in output.table_lines(columns, rows, wide=True)][1] == "a      baseline"


def test_an_unknown_output_format_is_a_usage_error() -> None:
    code, _, stderr = netfence("status", "-o", "nonsense")
    assert code == 2
    assert "unknown output format 'nonsense'" in " ".join(stderr.split())


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (5, "5s"),
        (119, "119s"),
        (320, "5m20s"),
        (600, "10m"),
        (3 * 3600 + 120, "3h2m"),
        (20 * 3600, "20h"),
        (3 * 86400 + 3600, "3d1h"),
        (40 * 86400, "40d"),
        (800 * 86400, "2y70d"),
    ],
)
def test_age_reads_as_kubectl_prints_it(seconds: int, shown: str) -> None:
    now = datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC)
    created = (now - datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    assert output.age(created, now) == shown


# --- documents -----------------------------------------------------------------------------


def test_documents_have_a_version_a_kind_and_camel_case_keys() -> None:
    from netfence.core.summaries import ControllerSummary, NamespaceSummary

    summary = NamespaceSummary(
        "shop",
        True,
        "managed",
        2,
        1,
        1,
        (ControllerSummary("Deployment", "web", ("http",)),),
        labels={"app.kubernetes.io/part_of": "x"},
    )
    document = output.listing("Namespace", [summary])
    assert document["apiVersion"] == "netfence.io/v1"
    assert document["kind"] == "NamespaceList"
    (item,) = document["items"]
    assert set(item) == {
        "name",
        "managed",
        "state",
        "managedPolicies",
        "unmanagedPolicies",
        "backedUp",
        "controllers",
        "labels",
        "creationTimestamp",
    }
    # Labels are data: their keys are kept as they are.
    assert item["labels"] == {"app.kubernetes.io/part_of": "x"}


@pytest.mark.parametrize(
    ("template", "printed"),
    [
        ("{.items[*].name}", "a b"),
        ('{range .items[*]}{.name}={.managed}{"\\n"}{end}', "a=true\nb=false\n"),
        ("{.items[?(@.managed==true)].name}", "a"),
        ("{.kind}: {.items[0].labels}", 'NamespaceList: {"team": "x"}'),
        ("{.nothing.there}", ""),
    ],
)
def test_jsonpath_templates_read_as_kubectl_reads_them(template: str, printed: str) -> None:
    data = {
        "kind": "NamespaceList",
        "items": [
            {"name": "a", "managed": True, "labels": {"team": "x"}},
            {"name": "b", "managed": False, "labels": {}},
        ],
    }
    assert jsonpaths.render(template, data) == printed


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("jsonpath", "jsonpath needs a template"),
        ("jsonpath={range .items[*]}{.name}", "without {end}"),
        ("jsonpath={.items[}", "cannot read the jsonpath"),
        ("xml", "unknown output format 'xml'"),
        ("json=x", "takes no template"),
    ],
)
def test_a_bad_output_format_is_a_usage_error_naming_the_problem(given: str, problem: str) -> None:
    with pytest.raises(typer.BadParameter, match=problem.replace("[", r"\[")):
        output.parse(given)


def test_a_format_a_command_cannot_print_is_refused_with_exit_2() -> None:
    code, _, stderr = netfence("enable", "shop", "-o", "wide")
    assert code == 2
    assert "enable cannot print -o wide; it prints: json, yaml, jsonpath=TEMPLATE" in stderr


def test_check_offline_prints_a_checkresult_with_camel_case_keys_and_exit_3() -> None:
    code, stdout, _ = netfence(
        "check", "-f", str(ROOT / "docs/examples/shop.yaml"), "--fail-on-findings", "-o", "json"
    )
    assert code == 3
    document = json.loads(stdout)
    assert (document["kind"], document["controller"]) == ("CheckResult", None)


# --- selectors and did-you-mean --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier!=db", {"app": "web"}, True),
        ("tier!=db", {"tier": "db"}, False),
        ("env in (prod, staging),!legacy", {"env": "staging"}, True),
        ("env notin (prod)", {"env": "prod"}, False),
        ("owner", {}, False),
        ("!owner", {}, True),
    ],
)
def test_label_selectors_read_as_kubectl_reads_them(
    query: str, labels: dict[str, str], matches: bool
) -> None:
    assert selectors.parse_query(query).matches(labels) is matches


@pytest.mark.parametrize("query", ["app=", "env in ()", "a b", "x in (a", ""])
def test_an_unreadable_selector_is_an_error(query: str) -> None:
    if query == "app=":
        # kubectl reads `app=` as "app has the empty value"; so does this.
        assert selectors.parse_query(query).matches({"app": ""})
        return
    with pytest.raises(ValueError, match="selector"):
        selectors.parse_query(query)


def test_a_selector_option_that_cannot_be_read_is_exit_2() -> None:
    code, _, stderr = netfence("status", "-l", "env in (a")
    assert code == 2
    assert "unbalanced parentheses" in stderr


def test_did_you_mean_offers_only_close_names() -> None:
    assert (
        suggestions.did_you_mean("htp", ["http", "https", "dns"]) == "; did you mean http or https?"
    )
    assert suggestions.did_you_mean("zzz", ["http", "https", "dns"]) == ""


def test_an_unknown_context_lists_the_contexts_and_the_close_one(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config")
    code, _, stderr = netfence("status", "--context", "prod-eu", env={"KUBECONFIG": str(config)})
    assert code == 1
    said = " ".join(stderr.split())
    assert f"there is no context prod-eu in the kubeconfig of {config}" in said
    assert "did you mean prod-eu1? its contexts: dev, prod-eu1" in said
    assert "--kubeconfig" not in said


def test_an_unreachable_api_server_is_named_with_its_url(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", server="https://127.0.0.1:1")
    code, _, stderr = netfence("status", env={"KUBECONFIG": str(config)})
    assert code == 1
    assert "the API server at https://127.0.0.1:1 is unreachable" in " ".join(stderr.split())


def test_the_namespace_defaults_to_the_contexts(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", namespace="team-a")
    code, _, stderr = netfence("policies", env={"KUBECONFIG": str(config)})
    assert code == 1
    # The request went to the context's namespace (and the server is unreachable).
    assert "read namespace team-a" in " ".join(stderr.split())


# --- completion and kubectl ------------------------------------------------------------------


def test_completion_offers_nothing_quietly_when_the_cluster_cannot_be_read(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config")
    for words, cword in (("netfence templates show ht", "3"), ("netfence policies -n de", "3")):
        code, stdout, stderr = netfence(
            env={
                "KUBECONFIG": str(config),
                "_NETFENCE_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": cword,
            }
        )
        assert (code, stdout.strip(), stderr) == (0, "", "")


def test_contexts_complete_from_the_kubeconfig(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config")
    code, stdout, _ = netfence(
        env={
            "KUBECONFIG": str(config),
            "_NETFENCE_COMPLETE": "complete_bash",
            "COMP_WORDS": f"netfence status --kubeconfig {config} --context pr",
            "COMP_CWORD": "5",
        }
    )
    assert (code, stdout.split()) == (0, ["prod-eu1"])


def test_kubectl_runs_the_plugin_by_its_script_name() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'kubectl-netfence = "netfence.composition:main"' in pyproject
    manifest = yaml.safe_load((ROOT / "deploy/krew/netfence.yaml").read_text())
    assert manifest["kind"] == "Plugin"
    assert manifest["metadata"]["name"] == "netfence"
    assert {p["bin"] for p in manifest["spec"]["platforms"]} == {"kubectl-netfence"}
    assert all(len(p["sha256"]) == 64 for p in manifest["spec"]["platforms"])


def test_output_formats_cover_what_the_docs_list() -> None:
    documented = (ROOT / "docs/cli.md").read_text()
    for fmt in Format:
        assert f"`{fmt.value}" in documented or fmt is Format.TABLE
