"""What the use cases need from the outside world, as interfaces the adapters implement.

Tests use small honest fakes of these; production uses `netfence.kube`.
"""

from __future__ import annotations

from typing import Protocol

from netfence.core.objects import JsonDict
from netfence.core.planning import Notice, WriteBackup


class PolicyWriter(Protocol):
    """Writes the objects a plan changes. Each call is idempotent."""

    async def write_backup(self, step: WriteBackup) -> None: ...

    async def delete_policy(self, namespace: str, name: str) -> None: ...

    async def apply_policy(self, manifest: JsonDict) -> None: ...


class NoticeBoard(Protocol):
    """Publishes notices, as Kubernetes Events in production."""

    async def publish(self, notice: Notice) -> None: ...
