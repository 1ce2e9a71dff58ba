"""Deletes with preconditions, which lightkube's `delete` cannot send.

A DELETE carrying DeleteOptions.preconditions (uid, resourceVersion) is refused with 409
when the object is no longer the one, or no longer at the version, that was read: a plan
made from stale state fails instead of deleting what someone restored meanwhile.
lightkube builds every request from the same parts; this builds one with a body.
"""

from __future__ import annotations

from typing import Any

from lightkube import AsyncClient


async def delete_if_unchanged(
    client: AsyncClient,
    resource: Any,
    name: str,
    *,
    namespace: str,
    uid: str | None,
    resource_version: str | None,
) -> None:
    """Delete `name`, only if it still has this uid and resourceVersion (when given)."""
    if uid is None and resource_version is None:
        await client.delete(resource, name, namespace=namespace)
        return
    preconditions = {
        key: value
        for key, value in (("uid", uid), ("resourceVersion", resource_version))
        if value is not None
    }
    generic = client._client
    request = generic.prepare_request("delete", resource, name=name, namespace=namespace)
    request.data = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions}
    response = await generic.send(generic.build_adapter_request(request))  # type: ignore[no-untyped-call]
    generic.raise_for_status(response)  # type: ignore[no-untyped-call]
