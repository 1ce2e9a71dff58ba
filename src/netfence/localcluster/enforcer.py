"""kube-network-policies, the Kubernetes SIG-network NetworkPolicy enforcer, for the local
dataplane: build it once, give it an identity, steer packets to it, run it.

The enforcer sends the first packet of every connection to an NFQUEUE and judges it in
user space against the NetworkPolicies it watches. Facts of v0.8.0 that shape this module
(read in its source, ``cmd/main.go`` and ``pkg/networkpolicy/controller.go``):

- it reads only in-cluster configuration: ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the
  token and CA under /var/run/secrets/kubernetes.io/serviceaccount. It gets them inside a
  private mount namespace (a tmpfs over /run), so the host's files are untouched;
- it lists and watches pods, namespaces and networkpolicies, nothing else (nodes only with
  the AdminNetworkPolicy flags, which are off): :data:`RULES`;
- it takes its node name from ``--hostname-override``, queues to ``--nfqueue-id`` (100),
  and without ``--fail-open`` drops what it cannot judge;
- its own nftables table needs the ``queue`` expression. Where the kernel lacks it
  (CONFIG_NFT_QUEUE) the table never loads; :func:`nft_queue_supported` finds that out
  and :func:`install_nfqueue_rules` steers the same packets with the xtables NFQUEUE
  target (iptables-nft) instead, without ``--queue-bypass``: with no enforcer listening,
  new connections through the node are dropped, not let through.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import PolicyRule, RoleRef, Subject
from lightkube.resources.apps_v1 import DaemonSet
from lightkube.resources.core_v1 import ServiceAccount, ServiceAccountToken
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from netfence.localcluster import netns
from netfence.localcluster.building import BuildError, cache_dir

VERSION = "v0.8.0"
MODULE = "sigs.k8s.io/kube-network-policies"
BINARY_NAME = "kube-network-policies"
QUEUE_ID = 100
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "kube-network-policies"
CLUSTER_ROLE = "netfence:kube-network-policies"
FIELD_MANAGER = "netfence-dataplane"
TOKEN_SECONDS = 7 * 24 * 3600
CHAIN = "NETFENCE-ENFORCE"
METRICS_ADDRESS = "127.0.0.1:9080"  # inside the node namespace
SECRETS_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
OVERRIDE_ENV = "NETFENCE_ENFORCER_BINARY"

# Least privilege: what v0.8.0's informers need (pods, namespaces, networkpolicies).
RULES: list[PolicyRule] = [
    PolicyRule(apiGroups=[""], resources=["pods", "namespaces"], verbs=["list", "watch"]),
    PolicyRule(
        apiGroups=["networking.k8s.io"], resources=["networkpolicies"], verbs=["list", "watch"]
    ),
]

_OUTPUT_TAIL_LINES = 40


# --- the binary ---------------------------------------------------------------------------


def binary_path(version: str = VERSION) -> Path:
    """$NETFENCE_ENFORCER_BINARY, else <cache>/kube-network-policies/<version>/kube-network-policies."""
    if override := os.environ.get(OVERRIDE_ENV):
        return Path(override)
    return cache_dir() / "kube-network-policies" / version / BINARY_NAME


def needs_build(version: str = VERSION) -> bool:
    """True when :func:`ensure_binary` would run `go install` (about 3.5 minutes cold)."""
    return not _usable(binary_path(version))


def ensure_binary(version: str = VERSION) -> Path:
    """The cached enforcer, built first with `go install MODULE/cmd@version` if needed."""
    target = binary_path(version)
    if _usable(target):
        return target
    if os.environ.get(OVERRIDE_ENV):
        raise BuildError(f"{OVERRIDE_ENV}={target} is not an executable file")
    go = shutil.which("go")
    if go is None:
        raise BuildError(f"the Go toolchain (`go`) is not on PATH; it builds {MODULE}@{version}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(target):
            return target
        with tempfile.TemporaryDirectory(prefix=".gobin.", dir=target.parent) as gobin:
            command = [go, "install", "-trimpath", "-ldflags=-s -w", f"{MODULE}/cmd@{version}"]
            proc = subprocess.run(
                command,
                cwd=gobin,  # outside any module: `go install pkg@version` needs none
                env={**os.environ, "GOBIN": gobin, "GOWORK": "off", "GOFLAGS": ""},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                output = (proc.stdout + proc.stderr).strip().splitlines()
                tail = "\n".join(output[-_OUTPUT_TAIL_LINES:])
                raise BuildError(f"`{' '.join(command)}` failed (exit {proc.returncode}):\n{tail}")
            built = Path(gobin) / "cmd"
            built.chmod(0o755)
            built.replace(target)
    return target


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# --- its identity -------------------------------------------------------------------------


def ensure_identity(kubeconfig: Path, *, seconds: int = TOKEN_SECONDS) -> str:
    """The enforcer's ServiceAccount, ClusterRole and binding (applied, so idempotent), and
    a fresh token for it from the TokenRequest API (no token controller needed)."""
    with contextlib.closing(
        Client(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
    ) as client:
        client.apply(
            ServiceAccount(metadata=ObjectMeta(name=SERVICE_ACCOUNT, namespace=NAMESPACE)),
            force=True,
        )
        client.apply(
            ClusterRole(
                metadata=ObjectMeta(name=CLUSTER_ROLE),
                rules=RULES,
            ),
            force=True,
        )
        client.apply(
            ClusterRoleBinding(
                metadata=ObjectMeta(name=CLUSTER_ROLE),
                roleRef=RoleRef(
                    apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name=CLUSTER_ROLE
                ),
                subjects=[
                    Subject(kind="ServiceAccount", name=SERVICE_ACCOUNT, namespace=NAMESPACE)
                ],
            ),
            force=True,
        )
        request = ServiceAccountToken(
            metadata=ObjectMeta(), spec=TokenRequestSpec(audiences=[], expirationSeconds=seconds)
        )
        try:
            issued = client.create(request, SERVICE_ACCOUNT, namespace=NAMESPACE)
        except ApiError as e:
            raise RuntimeError(
                f"the TokenRequest for {NAMESPACE}/{SERVICE_ACCOUNT} failed: {e}"
            ) from e
    if issued.status is None or not issued.status.token:
        raise RuntimeError(f"the TokenRequest for {NAMESPACE}/{SERVICE_ACCOUNT} gave no token")
    return issued.status.token


# --- how the cluster sees it ------------------------------------------------------------------

# Upstream installs kube-network-policies as a DaemonSet in kube-system. Here it is a process
# the dataplane runs in the node namespace, so this DaemonSet only stands for it: it selects
# no node (it never makes a pod) and is there while the enforcer runs, so `kubectl get ds
# -n kube-system` and `netfence check` see which plugin enforces NetworkPolicy.
STANDS_FOR_ANNOTATION = "netfence.io/stands-for"


def daemonset_name(node_name: str) -> str:
    return f"kube-network-policies-{node_name}"[:63].rstrip("-.")


def register(kubeconfig: Path, node_name: str) -> str:
    """The DaemonSet that stands for this node's enforcer (applied, so idempotent)."""
    name = daemonset_name(node_name)
    labels = {"app": "kube-network-policies", "netfence.io/dataplane-node": node_name}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "annotations": {
                STANDS_FOR_ANNOTATION: (
                    f"kube-network-policies {VERSION}, run by netfence's local dataplane as a "
                    f"process in the network namespace of node {node_name}; it schedules no pod"
                )
            },
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "nodeSelector": {"netfence.io/runs-as-process": "true"},
                    "containers": [
                        {
                            "name": "kube-network-policies",
                            "image": f"kube-network-policies:{VERSION}",
                        }
                    ],
                },
            },
        },
    }
    with contextlib.closing(
        Client(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
    ) as client:
        client.apply(codecs.from_dict(manifest), force=True)
    return name


def unregister(kubeconfig: Path, node_name: str) -> None:
    with (
        contextlib.closing(Client(KubeConfig.from_file(kubeconfig))) as client,
        contextlib.suppress(ApiError),
    ):
        client.delete(DaemonSet, daemonset_name(node_name), namespace=NAMESPACE)


# --- steering packets to it ---------------------------------------------------------------


def _nft(netns_name: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [netns.ip_binary(), "netns", "exec", netns_name, "nft", "-f", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def nft_queue_supported(netns_name: str) -> bool:
    """Whether nftables in this kernel has the ``queue`` expression, tried in ``netns_name``.

    One transaction adds a table whose (unhooked) chain queues, and deletes it again: it
    either fails as a whole or leaves nothing behind.
    """
    if shutil.which("nft") is None:
        return False
    script = (
        "add table inet netfence-probe\n"
        "add chain inet netfence-probe probe\n"
        f"add rule inet netfence-probe probe queue num {QUEUE_ID}\n"
        "delete table inet netfence-probe\n"
    )
    return _nft(netns_name, script).returncode == 0


def nfqueue_rules(queue: int = QUEUE_ID) -> list[str]:
    """The rules (iptables-save syntax, table filter) that send new forwarded connections
    to the enforcer's queue: loopback and established/related return; no --queue-bypass."""
    return [
        f"-A {CHAIN} -i lo -j RETURN",
        f"-A {CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"-A {CHAIN} -j NFQUEUE --queue-num {queue}",
        f"-A FORWARD -j {CHAIN}",
    ]


def _iptables(
    netns_name: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [netns.ip_binary(), "netns", "exec", netns_name, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def install_nfqueue_rules(netns_name: str, queue: int = QUEUE_ID) -> list[str]:
    """Add :func:`nfqueue_rules` in ``netns_name`` (never the host's); the rules added."""
    rules = nfqueue_rules(queue)
    text = "*filter\n" + f":{CHAIN} - [0:0]\n" + "".join(r + "\n" for r in rules) + "COMMIT\n"
    proc = _iptables(netns_name, "iptables-restore", "--wait", "--noflush", stdin=text)
    if proc.returncode != 0:
        raise RuntimeError(
            f"iptables-restore in {netns_name} failed (exit {proc.returncode}): {proc.stderr.strip()}"
        )
    return rules


def remove_nfqueue_rules(netns_name: str) -> None:
    """Undo :func:`install_nfqueue_rules` (nothing if the namespace or the rules are gone)."""
    if not netns.netns_exists(netns_name):
        return
    _iptables(netns_name, "iptables", "--wait", "-D", "FORWARD", "-j", CHAIN)
    _iptables(netns_name, "iptables", "--wait", "-F", CHAIN)
    _iptables(netns_name, "iptables", "--wait", "-X", CHAIN)


def nfqueue_probe_works(netns_name: str) -> tuple[bool, str]:
    """Whether the xtables NFQUEUE target loads (tried in ``netns_name``); the error if not."""
    if shutil.which("iptables") is None:
        return False, "`iptables` is not on PATH"
    proc = _iptables(
        netns_name,
        "iptables",
        "--wait",
        "-A",
        "FORWARD",
        "-j",
        "NFQUEUE",
        "--queue-num",
        str(QUEUE_ID),
    )
    if proc.returncode != 0:
        return False, proc.stderr.strip() or f"exit {proc.returncode}"
    _iptables(
        netns_name,
        "iptables",
        "--wait",
        "-D",
        "FORWARD",
        "-j",
        "NFQUEUE",
        "--queue-num",
        str(QUEUE_ID),
    )
    return True, ""


# --- running it ---------------------------------------------------------------------------

# Runs in the node namespace under `unshare --mount --propagation private`: a tmpfs over
# /run (what /var/run points to) holds the service-account files, for this process only.
# Reads token and CA first: the files may live anywhere, even under /run.
_LAUNCH = r"""
set -e
tok=$(cat "$1"); ca=$(cat "$2"); shift 2
run=$(readlink -f /var/run)
mount -t tmpfs -o mode=0755,size=1m netfence-enforcer "$run"
dir=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$dir"
printf '%s' "$tok" > "$dir/token"
printf '%s\n' "$ca" > "$dir/ca.crt"
printf '%s' "$NETFENCE_NAMESPACE" > "$dir/namespace"
unset tok ca NETFENCE_NAMESPACE
exec "$@"
"""


def launch_command(
    binary: Path,
    node_netns: str,
    node_name: str,
    token_file: Path,
    ca_file: Path,
    *,
    verbosity: int = 2,
) -> list[str]:
    """The command that runs the enforcer inside ``node_netns`` with its own mounts."""
    if Path(os.path.realpath(binary)).is_relative_to(os.path.realpath("/var/run")):
        raise RuntimeError(f"the enforcer binary {binary} is under /run, which its mounts hide")
    return [
        netns.ip_binary(), "netns", "exec", node_netns,
        "unshare", "--mount", "--propagation", "private",
        "/bin/sh", "-c", _LAUNCH, "netfence-enforcer", str(token_file), str(ca_file),
        str(binary),
        f"--hostname-override={node_name}",
        f"--nfqueue-id={QUEUE_ID}",
        f"--metrics-bind-address={METRICS_ADDRESS}",
        "--disable-nri",  # no container runtime here (and /run, where NRI's socket is, is ours)
        f"--v={verbosity}",
    ]  # fmt: skip


def launch_environment(api_host: str, api_port: int) -> dict[str, str]:
    """What in-cluster configuration reads, and nothing of the caller's proxies."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "KUBERNETES_SERVICE_HOST": api_host,
        "KUBERNETES_SERVICE_PORT": str(api_port),
        "NETFENCE_NAMESPACE": NAMESPACE,
    }


def queue_bound(pid: int, queue: int = QUEUE_ID) -> bool:
    """Whether ``pid`` (in the node namespace) has bound NFQUEUE ``queue``: it does once its
    caches have synced, just before it judges packets."""
    try:
        text = Path(f"/proc/{pid}/net/netfilter/nfnetlink_queue").read_text()
    except OSError:
        return False
    return any(line.split()[:1] == [str(queue)] for line in text.splitlines())


def table_loaded(node_netns: str) -> bool:
    """Whether the enforcer's own nftables table exists in ``node_netns``."""
    proc = _nft_list(node_netns)
    return proc.returncode == 0


def _nft_list(node_netns: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            netns.ip_binary(),
            "netns",
            "exec",
            node_netns,
            "nft",
            "list",
            "table",
            "inet",
            BINARY_NAME,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


__all__ = [
    "BINARY_NAME",
    "CLUSTER_ROLE",
    "QUEUE_ID",
    "RULES",
    "VERSION",
    "binary_path",
    "ensure_binary",
    "ensure_identity",
    "install_nfqueue_rules",
    "launch_command",
    "launch_environment",
    "needs_build",
    "nfqueue_probe_works",
    "nfqueue_rules",
    "nft_queue_supported",
    "queue_bound",
    "remove_nfqueue_rules",
    "table_loaded",
]
