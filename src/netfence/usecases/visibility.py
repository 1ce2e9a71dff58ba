"""Deciding what one caller may see of the shared watch cache, by asking the cluster.

Asked with the caller's own credentials: cluster-wide lists one question each
(SelfSubjectAccessReview), then one SelfSubjectRulesReview per namespace an RBAC binding
nominates for them, instead of a question per kind and namespace. The cost follows how
many namespaces the caller is bound in, not the size of the cluster.
"""

from __future__ import annotations

import asyncio

from netfence.core import naming
from netfence.core.visibility import (
    CONFIGMAPS,
    LEASES,
    LISTED,
    NAMESPACES,
    Resource,
    Visibility,
    rules_allow,
    scope_from,
)
from netfence.usecases.ports import Authorizer, Bindings, Identity, Question, RulesReviewer

# SelfSubjectRulesReviews in flight at once for one caller: a person bound in hundreds of
# namespaces must not flood the API server.
_CONCURRENT_REVIEWS = 8


def _question(
    verb: str, resource: Resource, namespace: str | None = None, name: str | None = None
) -> Question:
    group, plural = resource
    return Question(verb, plural, group=group, namespace=namespace, name=name)


async def visibility_of(
    authorizer: Authorizer,
    reviewer: RulesReviewer,
    identity: Identity,
    bindings: Bindings,
    *,
    netfence_namespace: str,
) -> Visibility:
    """The caller's Visibility; Unauthenticated when the cluster no longer accepts them."""
    user, groups = await identity.whoami()
    everywhere_answers = await asyncio.gather(
        *(authorizer.can(_question("list", r)) for r in LISTED),
        authorizer.can(
            _question("get", CONFIGMAPS, netfence_namespace, naming.TEMPLATES_CONFIGMAP)
        ),
        authorizer.can(_question("list", CONFIGMAPS, netfence_namespace)),
        authorizer.can(_question("get", LEASES, netfence_namespace, naming.LEADER_LEASE)),
    )
    everywhere = dict(zip(LISTED, everywhere_answers[: len(LISTED)], strict=True))
    catalog, backups, lease = everywhere_answers[len(LISTED) :]
    # Per kind, the namespaces it may be listed in (for NAMESPACES: the Namespace objects
    # the caller may get, which is what a RoleBinding can grant of them).
    found: dict[Resource, set[str]] = {r: set() for r in LISTED}
    if not all(everywhere.values()):
        candidates = sorted(bindings.nominated(user, groups))
        gate = asyncio.Semaphore(_CONCURRENT_REVIEWS)

        async def review(namespace: str) -> None:
            async with gate:
                allowed = await _allowed_in(authorizer, reviewer, namespace)
            for resource in allowed:
                found[resource].add(namespace)

        await asyncio.gather(*(review(ns) for ns in candidates))
    lists = {r: scope_from(everywhere[r], found[r] if r != NAMESPACES else ()) for r in LISTED}
    return Visibility(
        user=user,
        lists=lists,
        namespace_objects=scope_from(everywhere[NAMESPACES], found[NAMESPACES]),
        catalog=catalog,
        backups=backups,
        lease=lease,
    )


async def _allowed_in(
    authorizer: Authorizer, reviewer: RulesReviewer, namespace: str
) -> set[Resource]:
    """The kinds the caller may list in `namespace`, NAMESPACES standing for getting the
    Namespace object itself (which a RoleBinding there can grant)."""
    answer = await reviewer.rules(namespace)
    if answer.incomplete:
        asked = await asyncio.gather(
            *(
                authorizer.can(
                    _question("get", r, name=namespace)
                    if r == NAMESPACES
                    else _question("list", r, namespace)
                )
                for r in LISTED
            )
        )
        return {r for r, yes in zip(LISTED, asked, strict=True) if yes}
    allowed = {r for r in LISTED if r != NAMESPACES and rules_allow(answer.rules, "list", r)}
    if rules_allow(answer.rules, "get", NAMESPACES, namespace):
        allowed.add(NAMESPACES)
    return allowed
