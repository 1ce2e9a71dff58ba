"""Objects as an older API server stored them: written straight into the local control
plane's etcd, past today's validation, then served by the real API server like any other.

A Kubernetes 1.36 API server refuses a NetworkPolicy whose CIDR has host bits set
(10.0.0.7/8), which older ones stored as written; clusters upgraded since still hold such
policies, and the API server keeps serving them (validation ratchets: it only judges new
values). This puts one in etcd as JSON (the storage decoder reads JSON as well as
protobuf) under the key the API server uses, so its watch delivers it to every client,
the enforcer included. Test-only: the embedded etcd listens on 127.0.0.1 without TLS.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from netfence.localcluster import ControlPlane

_SOCKET = re.compile(r"socket:\[(\d+)\]")


def etcd_url(control_plane: ControlPlane) -> str:
    """The client URL of the control plane's etcd: the listening port of its process that
    answers the etcd v3 API (the others are kube-apiserver and etcd's peer port)."""
    pid = control_plane.pid
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            found = _SOCKET.match(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if found:
            inodes.add(found.group(1))
    ports = []
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:  # LISTEN, and this process's
            ports.append(int(fields[1].split(":")[1], 16))
    for port in ports:
        url = f"http://127.0.0.1:{port}"
        try:
            answer = httpx.post(f"{url}/v3/kv/range", json={"key": _b64(b"/registry/")}, timeout=2)
        except httpx.HTTPError:
            continue
        if answer.status_code == 200 and "header" in answer.json():
            return url
    raise AssertionError(f"no etcd client port among {ports} of process {pid}")


def store_network_policy(control_plane: ControlPlane, manifest: dict[str, Any]) -> None:
    """Put a NetworkPolicy in etcd as an older API server would have stored it."""
    metadata = manifest["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stored = {
        **manifest,
        "metadata": {
            **metadata,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now,
            "generation": 1,
        },
    }
    key = f"/registry/networkpolicies/{namespace}/{name}".encode()
    value = json.dumps(stored).encode()
    answer = httpx.post(
        f"{etcd_url(control_plane)}/v3/kv/put",
        json={"key": _b64(key), "value": _b64(value)},
        timeout=5,
    )
    answer.raise_for_status()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
