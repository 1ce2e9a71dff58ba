"""How the web app is served: who the callers are and where the cluster is."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lightkube import KubeConfig
from lightkube.config.kubeconfig import SingleConfig

from netfence.core import naming


class AuthMode(enum.StrEnum):
    # One person on their own machine: every call uses the kubeconfig's credentials.
    LOCAL = "local"
    # Served in a cluster: each person signs in with a Kubernetes bearer token (or an
    # authenticating proxy passes one in the Authorization header).
    TOKEN = "token"  # noqa: S105 - the name of a mode, not a secret


@dataclass(frozen=True, slots=True)
class WebSettings:
    cluster: KubeConfig | SingleConfig
    auth: AuthMode = AuthMode.LOCAL
    netfence_namespace: str = naming.DEFAULT_NETFENCE_NAMESPACE
    secure_cookies: bool = False
    session_seconds: int = 8 * 3600
    # How long a caller's permission answers (SelfSubjectAccessReview) are reused.
    permission_cache_seconds: float = 10.0
