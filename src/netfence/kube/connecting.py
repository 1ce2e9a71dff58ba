"""Building an API client from a kubeconfig, a token, or the in-cluster service account."""

from __future__ import annotations

from pathlib import Path

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.config.kubeconfig import SingleConfig

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
