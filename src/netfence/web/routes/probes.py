"""Probing from the console: real connections between a namespace's controllers, beside
the matrix (docs/probe.md). Available where the connector has a prober: the local cluster,
in local mode (the probes run through its node agent, not with a caller's token)."""

from __future__ import annotations

from fastapi import APIRouter

from netfence.usecases import probing
from netfence.web import schemas
from netfence.web.callers import CallerDep, ChangingCallerDep
from netfence.web.routes.params import NamespaceName

router = APIRouter(prefix="/api/v1", tags=["probing"])


@router.get("/probing", response_model=schemas.ProbingAvailability)
async def availability(caller: CallerDep) -> schemas.ProbingAvailability:
    """Whether probing is available to this caller here, and if not, why."""
    if caller.cluster.prober is None:
        return schemas.ProbingAvailability(available=False, reason=probing.UNAVAILABLE)
    return schemas.ProbingAvailability(available=True)


@router.post("/namespaces/{namespace}/probe", response_model=schemas.ProbeRun)
async def probe(namespace: NamespaceName, caller: ChangingCallerDep) -> schemas.ProbeRun:
    """Open a real connection from one pod of each controller (and each bare pod) of the
    namespace to every port the others declare, and set each beside the prediction; 409
    where probing is not available. Changes nothing in the cluster."""
    report = await probing.probe(
        caller.cluster, probing.Scope(namespaces=(namespace,), workloads=True)
    )
    return schemas.ProbeRun.model_validate(probing.as_json(report))
