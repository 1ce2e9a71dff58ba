"""Building an API client from a kubeconfig, a token, or the in-cluster service account."""

from __future__ import annotations

from pathlib import Path

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SingleConfig
from lightkube.config.models import Context, User

from netfence.core import naming


def load_config(kubeconfig: Path | None = None, *, context: str | None = None) -> KubeConfig:
    """A kubeconfig file when given, else $KUBECONFIG / ~/.kube/config, else in-cluster."""
    if kubeconfig is not None:
        return KubeConfig.from_file(kubeconfig)
    return KubeConfig.from_env()


def make_client(
    config: KubeConfig | SingleConfig,
    *,
    context: str | None = None,
    timeout: float = 30.0,
) -> AsyncClient:
    selected: KubeConfig | SingleConfig | None = config
    if context is not None and isinstance(config, KubeConfig):
        selected = config.get(context_name=context)
    return AsyncClient(
        selected, field_manager=naming.FIELD_MANAGER, timeout=httpx2.Timeout(timeout)
    )


def client_for(kubeconfig: Path | None = None, *, context: str | None = None) -> AsyncClient:
    return make_client(load_config(kubeconfig), context=context)


def with_token(config: KubeConfig | SingleConfig, token: str) -> SingleConfig:
    """The same cluster (server and CA) as `config`, authenticated by someone's bearer token.

    The web API acts as each caller this way, so it never holds more rights than they do.
    """
    single = config.get() if isinstance(config, KubeConfig) else config
    if single is None:
        raise ValueError("the kubeconfig names no current context")
    return SingleConfig(
        context_name="caller",
        context=Context(cluster="cluster", user="caller"),
        cluster=single.cluster,
        user=User(token=token),
        fname=single.fname,
    )
