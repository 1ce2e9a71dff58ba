"""The default template catalog, created by the controller when none exists."""

from __future__ import annotations

import logging

from lightkube import ApiError, AsyncClient

from netfence.core import naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.kube import failures
from netfence.kube.changes import catalog_configmap

logger = logging.getLogger(__name__)


async def ensure_defaults(client: AsyncClient, *, namespace: str) -> bool:
    """Create the catalog with the default templates if it is missing; never overwrite.

    Returns whether it was created. `create` (not apply) is what guarantees an existing
    catalog, possibly emptied on purpose by an admin, is left exactly as it is.
    """
    with failures.translated(f"create ConfigMap {namespace}/{naming.TEMPLATES_CONFIGMAP}"):
        try:
            await client.create(catalog_configmap(namespace, dict(DEFAULT_TEMPLATES)))
        except ApiError as e:
            if e.status.code == 409:
                return False
            raise
    logger.info("created the template catalog with %d default templates", len(DEFAULT_TEMPLATES))
    return True
