"""Requests generated from /api/openapi.json by schemathesis: no operation answers 5xx.

Every operation the API documents gets a bounded number of generated requests (per
operation and mode: NETFENCE_FUZZ_EXAMPLES, default 25): valid by its schema (positive)
and breaking it (negative: wrong types, patterns, lengths, missing fields), each both
with random names and with the names of objects that exist (the module's own namespace,
its Deployment `web` and policy `legacy`, template `web`), which reach the deeper code
paths. No response may be a 5xx, every 4xx must be the app's JSON error shape, and no
request may succeed with a name (in the path or query) that breaks its documented pattern.

The app runs in local mode with the test control plane's admin kubeconfig, in-process over
httpx's ASGI transport in the test's own event loop (where its Kubernetes clients live):
schemathesis only generates the requests (hypothesis runs in a worker thread); they are
sent with the session's cookie and CSRF token, so mutations get past CSRF to the checks.

What a generated request may change, and why it cannot harm the other tests:

- the app's netfence namespace is one made here, so PUT and DELETE of templates change only
  that catalog (seeded with `web`, and seeded again whenever a case deletes it), never the
  shared one in netfence-system;
- namespaces are cluster-wide: a request other than a read that names, in its `namespace`
  path parameter, a namespace that exists and is not the module's own is not sent (and
  counted). Random names reach nothing real, so only the module's own namespace is
  enabled, disabled or attached to;
- a sign-out drops the session, so the next request starts a new one (and its CSRF token).

The run is derandomized, so it sends the same requests every time; NETFENCE_FUZZ_RANDOM=1
asks for new ones. `pytest -s` prints the figures and the statuses per operation.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Namespace
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from netfence.composition import web_app
from netfence.localcluster import ControlPlane
from netfence.web.sessions import CSRF_HEADER, SESSION_COOKIE
from netfence.web.settings import AuthMode, WebSettings
from tests.integration import kube
from tests.integration.api_client import problem

pytestmark = pytest.mark.timeout(180)

Case = schemathesis.Case[Any]

EXAMPLES = int(os.environ.get("NETFENCE_FUZZ_EXAMPLES", "25"))
RANDOM = os.environ.get("NETFENCE_FUZZ_RANDOM") == "1"
BASE_URL = "http://testserver"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ERROR_KEYS = {"message", "field", "errors"}

TEMPLATE_NAME = "web"
TEMPLATE = "description: Ingress on one TCP port.\ningress:\n- ports:\n  - port: 8080\n"


@dataclass
class Run:
    """What the generated requests met: statuses per operation, and what went wrong."""

    sent: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unbreakable: list[str] = field(default_factory=list)

    def record(self, label: str, status: int) -> None:
        self.sent[label] += 1
        self.statuses.setdefault(label, Counter())[status] += 1


@dataclass(frozen=True)
class Target:
    """The cluster the run may touch: its own netfence namespace and team namespace."""

    netfence_namespace: str
    team: str
    existing: frozenset[str]


@pytest.fixture(scope="module")
async def target(admin: AsyncClient) -> Target:
    system = await kube.create_namespace(admin, kube.unique("nf-fuzz"))
    team = await kube.create_namespace(admin, kube.unique("fuzz-team"))
    await kube.create(admin, kube.deployment(team, "web"))
    await kube.create(admin, kube.foreign_policy(team, "legacy"))
    existing = frozenset(
        {ns.metadata.name async for ns in admin.list(Namespace) if ns.metadata and ns.metadata.name}
    )
    # Left in place like every test's namespaces (no namespace controller runs to remove them).
    return Target(system, team, existing)


class Client:
    """One browser-like client of the app: a cookie jar and its session's CSRF token."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def start_session(self) -> None:
        response = await self.http.get("/api/v1/session")
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]

    async def seed(self) -> None:
        """The template the cases on known objects name (again, after one deleted it)."""
        response = await self.http.put(
            f"/api/v1/templates/{TEMPLATE_NAME}",
            json={"yaml": TEMPLATE},
            headers={CSRF_HEADER: self.csrf},
        )
        assert response.status_code == 200, response.text

    async def send(self, case: Case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL)
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
        headers[CSRF_HEADER] = self.csrf
        content: Any = kwargs.get("data")
        response = await self.http.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=headers,
            cookies=kwargs.get("cookies") or None,
            json=kwargs.get("json"),
            content=content.encode() if isinstance(content, str) else content,
        )
        method = case.method.upper()
        if method == "DELETE" and case.path == "/api/v1/session":
            await self.start_session()  # signed out: a new session, a new CSRF token
        if (method, case.path) == ("DELETE", "/api/v1/templates/{name}") and response.is_success:
            await self.seed()
        return response


def _problem(response: httpx.Response) -> str | None:
    """Why this response is wrong, if it is: a 5xx, or a 4xx not in the app's error shape."""
    if response.status_code >= 500:
        return f"answered {response.status_code}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            return f"answered {response.status_code} without JSON"
        if not isinstance(body, dict) or not set(body) >= ERROR_KEYS or not body["message"]:
            return f"answered {response.status_code} in another shape"
    return None


def _forbidden(case: Case) -> list[str]:
    """The names in the path and query that break their documented pattern or length.

    (Only those: pydantic coerces `"restore": 0` to false and unknown query parameters are
    ignored, as usual, so a negative case as a whole may well succeed.)
    """
    found = []
    for parameter in case.operation.definition.raw.get("parameters", []):
        schema, name = parameter.get("schema", {}), parameter["name"]
        values = case.path_parameters if parameter["in"] == "path" else case.query
        value = (values or {}).get(name)
        if "pattern" not in schema or not isinstance(value, str):
            continue
        if parameter["in"] == "path":
            value = urllib.parse.unquote(value)
        too_long = len(value) > schema.get("maxLength", len(value))
        if too_long or re.search(schema["pattern"], value) is None:
            found.append(f"{parameter['in']} {name} {value!r}")
    return found


def _known(operation: Any, target: Target) -> dict[str, Any]:
    """as_strategy's arguments that name objects that exist: the team namespace, its
    Deployment web and policy legacy, template web; the other inputs are generated."""
    names = {p["name"]: p["in"] for p in operation.definition.raw.get("parameters", [])}
    path = {
        "namespace": target.team,
        "kind": "deployment",
        "name": "legacy" if "/policies/" in operation.path else "web",
        "template": TEMPLATE_NAME,
    }
    if operation.path.startswith("/api/v1/templates/"):
        path["name"] = TEMPLATE_NAME
    query = {
        "source": f"{target.team}/deployment/web",
        "destination": f"{target.team}/deployment/web",
    }
    known: dict[str, Any] = {}
    if fixed := {k: v for k, v in path.items() if names.get(k) == "path"}:
        known["path_parameters"] = fixed
    if fixed := {k: v for k, v in query.items() if names.get(k) == "query"}:
        known["query"] = fixed
    return known


def _with_valid_yaml(case: Case) -> Case:
    # Random YAML is never a template; a valid one reaches the write and its resourceVersion.
    if isinstance(case.body, dict) and "yaml" in case.body:
        case.body = {**case.body, "yaml": TEMPLATE}
    return case


def _strategies(operation: Any, target: Target) -> list[tuple[str, st.SearchStrategy[Any]]]:
    found: list[tuple[str, st.SearchStrategy[Any]]] = []
    known = _known(operation, target)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        found.append((mode.value, operation.as_strategy(mode)))
        if known:
            strategy = operation.as_strategy(mode, **known)
            if operation.method.upper() == "PUT" and mode is GenerationMode.POSITIVE:
                strategy = strategy.map(_with_valid_yaml)
            found.append((f"{mode.value}, known objects", strategy))
    return found


def _may_send(case: Case, target: Target) -> bool:
    """Anything but a read that names a namespace that exists (other than the module's own)
    is not sent."""
    if case.method.upper() in SAFE_METHODS:
        return True
    namespace = (case.path_parameters or {}).get("namespace")
    return namespace is None or namespace == target.team or namespace not in target.existing


def _explore(
    loop: asyncio.AbstractEventLoop,
    client: Client,
    target: Target,
    run: Run,
    label: str,
    strategy: st.SearchStrategy[Case],
) -> None:
    """Run hypothesis over one strategy (in a worker thread), sending in the test's loop."""

    def send(case: Case) -> None:
        if not _may_send(case, target):
            run.skipped[label] += 1
            return
        future = asyncio.run_coroutine_threadsafe(client.send(case), loop)
        response = future.result(timeout=60)
        run.record(label, response.status_code)
        problem = _problem(response)
        if problem is None and response.is_success and (refused := _forbidden(case)):
            problem = f"acted on {', '.join(refused)}, which the schema forbids"
        if problem is not None:
            curl = case.as_curl_command(base_url=BASE_URL)
            run.failures.append(f"{label} {problem}: {response.text[:300]}\n    {curl}")

    explore: Callable[[], None] = hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        verbosity=hypothesis.Verbosity.quiet,
    )(hypothesis.given(strategy)(send))
    try:
        explore()
    except hypothesis.errors.Unsatisfiable:
        # Negative mode on an operation with no input at all: there is nothing to break.
        run.unbreakable.append(label)


async def test_no_operation_answers_5xx(control_plane: ControlPlane, target: Target) -> None:
    settings = WebSettings(auth=AuthMode.LOCAL, netfence_namespace=target.netfence_namespace)
    app = web_app(KubeConfig.from_file(control_plane.kubeconfig), settings)
    schema = schemathesis.openapi.from_dict(app.openapi())
    run = Run()
    started = time.monotonic()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url=BASE_URL,
            timeout=60,
        ) as http,
    ):
        client = Client(http)
        await client.start_session()
        await client.seed()
        loop = asyncio.get_running_loop()
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result  # the app's own schema loads whole
            # The live stream never ends, so no case of it would; test_shared_cache.py
            # drives it against a real server.
            if result.ok().path != "/api/v1/stream":
                operations.append(result.ok())
        for operation in operations:
            for mode, strategy in _strategies(operation, target):
                label = f"{operation.method.upper()} {operation.path} [{mode}]"
                await asyncio.to_thread(_explore, loop, client, target, run, label, strategy)
    elapsed = time.monotonic() - started
    sent = sum(run.sent.values())
    summary = (
        f"{len(operations)} operations, {sent} requests in {elapsed:.1f}s, "
        f"{sum(run.skipped.values())} not sent (a namespace that exists), "
        f"{len(run.unbreakable)} negative runs with nothing to break"
    )
    print(summary)  # noqa: T201 - shown with -s: the figures of a run
    for label in sorted(run.statuses):
        print(f"  {label}: {dict(sorted(run.statuses[label].items()))}")  # noqa: T201
    assert not run.failures, f"{summary}; {len(run.failures)} failures:\n" + "\n".join(
        run.failures[:40]
    )
    assert len(operations) >= 20
    assert all(run.sent[f"{op.method.upper()} {op.path} [positive]"] for op in operations)


# --- what the fuzzing found, pinned --------------------------------------------------------

V = "/api/v1"


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "says"),
    [
        # A control character in a name once reached the HTTP client as an invalid URL (500).
        ("GET", f"{V}/namespaces/a%01b", None, "namespace", "lower case alphanumeric"),
        ("POST", f"{V}/namespaces/a%0Ab/enable", None, "namespace", "invalid value"),
        ("GET", f"{V}/namespaces/{'x' * 64}/events", None, "namespace", "no more than 63"),
        ("GET", f"{V}/namespaces/team/controllers/deployment/w%07b", None, "name", "'w\\x07b'"),
        ("GET", f"{V}/namespaces/team/policies/Legacy/update-preview", None, "name", "lower"),
        (
            "DELETE",
            f"{V}/namespaces/team/controllers/deployment/web/templates/Bad_Name",
            None,
            "template",
            "invalid template name 'Bad_Name'",
        ),
        ("GET", f"{V}/templates/Bad_Name", None, "name", "invalid template name"),
        (
            "GET",
            f"{V}/connectivity/explain?source=a%01/web&destination=b/web&port=80",
            None,
            "source",
            "namespace 'a\\x01'",
        ),
        # A resourceVersion that is not a number once went to the API server (502).
        (
            "DELETE",
            f"{V}/templates/web?resource_version=12a",
            None,
            "query.resource_version",
            "digits",
        ),
        (
            "DELETE",
            f"{V}/templates/web?resource_version=18446744073709551616",
            None,
            "query.resource_version",
            "larger",
        ),
        (
            "PUT",
            f"{V}/templates/web",
            {"yaml": TEMPLATE, "resource_version": "x"},
            "resource_version",
            "digits",
        ),
    ],
)
async def test_a_malformed_name_or_version_is_a_422_naming_it_before_any_call(
    method: str, path: str, body: Any, field: str, says: str
) -> None:
    # An unreachable API server: any call would fail (502), so a 422 proves none was made.
    cluster = KubeConfig.from_dict(
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "u", "user": {"token": "unused"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
    )
    app = web_app(cluster, WebSettings(auth=AuthMode.LOCAL))
    session = app.state.sessions.new()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE_URL,
        cookies={SESSION_COOKIE: session.id},
    ) as http:
        response = await http.request(method, path, json=body, headers={CSRF_HEADER: session.csrf})
    found = problem(response, 422, says=says, field=field)
    assert all(e["field"] == field for e in found["errors"])
    if "Bad_Name" in path:  # the fix the catalog's own check suggests, as for PUT
        assert found["errors"][0]["fix"] == "e.g. 'bad-name'"
