"""Whether a netfence controller is running: the holder of its leader-election Lease.

Everything netfence does after a label is written is done by the controller, so commands
that write a label (and views of the state) say at once when no controller holds the
Lease, instead of waiting for a policy that will not come.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from netfence.core import errors, naming
from netfence.usecases.ports import ClusterViews, LeaseRecord

# A Lease that names no duration holds for the controller's default (controller/leading).
DEFAULT_LEASE_SECONDS = 15


@dataclass(frozen=True, slots=True)
class Leadership:
    """Who leads, as far as the caller may read it."""

    lease: str
    # None: the caller may not read the Lease (or the API server did not answer), so
    # nothing is claimed either way.
    live: bool | None
    holder: str | None = None
    renewed: datetime.datetime | None = None
    # Why no controller acts, in words (None while one does, or when unknown).
    problem: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "lease": self.lease,
            "live": self.live,
            "holderIdentity": self.holder,
            "renewTime": self.renewed.isoformat() if self.renewed else None,
            "problem": self.problem,
        }


def judge(record: LeaseRecord | None, *, lease: str, now: datetime.datetime) -> Leadership:
    """Pure: a Lease is held while its holder renewed it within its duration."""
    start = "start one (the Helm chart in deploy/, or `netfence controller`)"
    if record is None:
        return Leadership(
            lease,
            live=False,
            problem=(
                f"no netfence controller is running: the Lease {lease} does not exist, so "
                f"nothing acts on netfence's labels; {start}"
            ),
        )
    duration = record.duration_seconds or DEFAULT_LEASE_SECONDS
    if record.holder and record.renewed is not None:
        age = (now - record.renewed).total_seconds()
        if age <= duration:
            return Leadership(lease, live=True, holder=record.holder, renewed=record.renewed)
        last = f"last renewed {_ago(age)} ago by {record.holder}"
    else:
        last = "released by the last controller that stopped"
    return Leadership(
        lease,
        live=False,
        holder=record.holder,
        renewed=record.renewed,
        problem=(
            f"no netfence controller holds the Lease {lease} ({last}), so nothing acts on "
            f"netfence's labels until one runs; {start}"
        ),
    )


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


async def leadership(
    reader: ClusterViews, *, netfence_namespace: str, now: datetime.datetime | None = None
) -> Leadership:
    """The controller's presence; unknown (live None) when the Lease cannot be read."""
    lease = f"{netfence_namespace}/{naming.LEADER_LEASE}"
    try:
        record = await reader.controller_lease()
    except errors.NetfenceError:
        return Leadership(lease, live=None)
    return judge(record, lease=lease, now=now or datetime.datetime.now(datetime.UTC))
