"""Reading what connectivity analysis needs, as far as the caller may read it.

Analysis wants the whole cluster (namespaces, controllers, pods and NetworkPolicies of every
namespace), which netfence-admin may read. A caller bound per namespace (netfence-developer)
may not list anything cluster-wide; for them the namespaces in question are read instead,
which is exact for every connection between those namespaces and says nothing of the rest.
Every read uses the caller's own client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lightkube import ApiError

from netfence.core import errors, manifests
from netfence.kube import surveying
from netfence.web.callers import Caller


@dataclass(frozen=True, slots=True)
class Scoped:
    inventory: manifests.Inventory
    # True when every namespace was read; False when only `namespaces` were.
    complete: bool
    notes: tuple[str, ...]


def _listing(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


async def read(caller: Caller, namespaces: Sequence[str], *, whole: bool = True) -> Scoped:
    """The cluster (with `whole`, when the caller may list it), else just `namespaces`.

    Raises NotFound for a namespace that does not exist, AccessDenied when the caller may
    not read one of `namespaces` either.
    """
    wanted = sorted(set(namespaces))
    notes: list[str] = []
    complete = False
    if whole:
        try:
            inventory = await surveying.survey(caller.client)
            complete = True
        except errors.AccessDenied as e:
            if isinstance(e.__cause__, ApiError) and e.__cause__.status.code == 401:
                raise  # the credentials are no longer accepted: sign in again
            notes.append(
                f"You may not read every namespace, so only {_listing(wanted)} "
                f"{'is' if len(wanted) == 1 else 'are'} analysed: traffic from and to other "
                "namespaces is not shown. (netfence-admin may read them all.)"
            )
    if complete:
        known = {ns.name for ns in inventory.namespaces}
        for name in wanted:
            if name not in known:
                raise errors.NotFound(f"namespace {name} does not exist")
    else:
        inventory = await surveying.survey_namespaces(caller.client, wanted)
    if "pods" in inventory.unreadable:
        notes.append(
            "You may not list pods, so controllers stand for the pods they run and pods "
            "without a controller are not shown."
        )
    return Scoped(inventory, complete, tuple(notes))


async def for_impact(caller: Caller, namespace: str) -> Scoped | str:
    """The inventory for an impact preview, or why there is none.

    A preview is still worth showing without its effect on traffic (it lists the policies
    it changes), so a refusal or an unreachable API server here becomes a sentence.
    """
    try:
        return await read(caller, [namespace])
    except (errors.AccessDenied, errors.ClusterError) as e:
        if isinstance(e.__cause__, ApiError) and e.__cause__.status.code == 401:
            raise
        return f"The effect on connectivity could not be computed: {e}"
