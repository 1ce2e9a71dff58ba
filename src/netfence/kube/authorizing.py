"""The `Authorizer` and `Identity` adapters: the API server's own answers for the caller."""

from __future__ import annotations

from lightkube import ApiError, AsyncClient
from lightkube.models.authorization_v1 import (
    ResourceAttributes,
    SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReviewSpec,
)
from lightkube.resources.authentication_v1 import SelfSubjectReview
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview, SelfSubjectRulesReview

from netfence.core.visibility import ResourceRule
from netfence.kube import failures
from netfence.usecases.kept import Kept
from netfence.usecases.ports import Authorizer, Question, RulesAnswer


class KubeAuthorizer:
    """SelfSubjectAccessReview and SelfSubjectRulesReview, asked with the caller's own
    client (the `Authorizer` and `RulesReviewer` ports)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def can(self, question: Question) -> bool:
        review = SelfSubjectAccessReview(
            spec=SelfSubjectAccessReviewSpec(
                resourceAttributes=ResourceAttributes(
                    verb=question.verb,
                    resource=question.resource,
                    group=question.group,
                    namespace=question.namespace,
                    name=question.name,
                )
            )
        )
        try:
            answer = await self._client.create(review)
        except ApiError:
            return False  # no answer is no permission: the UI offers less, never more
        return bool(answer.status and answer.status.allowed)

    async def rules(self, namespace: str) -> RulesAnswer:
        review = SelfSubjectRulesReview(spec=SelfSubjectRulesReviewSpec(namespace=namespace))
        with failures.translated(f"review your permissions in namespace {namespace}"):
            answer = await self._client.create(review)
        status = answer.status
        if status is None:
            return RulesAnswer((), incomplete=True)
        return RulesAnswer(
            tuple(
                ResourceRule(
                    verbs=tuple(rule.verbs or ()),
                    api_groups=tuple(rule.apiGroups or ()),
                    resources=tuple(rule.resources or ()),
                    resource_names=tuple(rule.resourceNames or ()),
                )
                for rule in status.resourceRules or ()
            ),
            incomplete=bool(status.incomplete),
        )


class KubeIdentity:
    """SelfSubjectReview: who the API server takes the caller for."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def whoami(self) -> tuple[str, tuple[str, ...]]:
        with failures.translated("find out who you are"):
            review = await self._client.create(SelfSubjectReview())
        info = review.status.userInfo if review.status else None
        return (info.username or "", tuple(info.groups or ())) if info else ("", ())


class RememberedAnswers:
    """Authorization answers per caller (by a hash of their credentials), each kept for a
    few seconds: every view asks the same questions, and a caller without a session (a
    proxy's bearer token, a script) would otherwise ask the API server on every request."""

    def __init__(self, seconds: float, *, size: int = 65536) -> None:
        self._kept: Kept[bool] = Kept(seconds=seconds, size=size)

    def authorizer(self, key: str, inner: Authorizer) -> Authorizer:
        return _Remembering(inner, key, self._kept)


class _Remembering:
    def __init__(self, inner: Authorizer, caller: str, kept: Kept[bool]) -> None:
        self._inner = inner
        self._caller = caller
        self._kept = kept

    async def can(self, question: Question) -> bool:
        return await self._kept.get((self._caller, question), lambda: self._inner.can(question))
