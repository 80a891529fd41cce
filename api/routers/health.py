"""Liveness, readiness (what this process needs to serve, failures named) and Prometheus metrics.

Readiness checks PostgreSQL and Temporal only. A provider outage (ServiceTitan, Google, OpenAI,
Anthropic) must not take the API out of a load balancer: the pipelines retry through it, and its
health is shown by the ops views (`/api/routing/ops/provider-health`) instead.
"""

import asyncio
import time
from datetime import timedelta
from importlib.metadata import version

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import Database, Temporal
from api.problems import problem

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 3.0


class Health(BaseModel):
    status: str
    version: str
    uptime_seconds: float


class Readiness(BaseModel):
    status: str
    components: dict[str, str]


@router.get("/health", response_model=Health)
async def health(request: Request) -> Health:
    return Health(
        status="ok",
        version=version("tempoline"),
        uptime_seconds=round(time.monotonic() - request.app.state.started, 3),
    )


@router.get("/health/live", response_model=Health)
async def live(request: Request) -> Health:
    return await health(request)


async def _postgres(db: Database) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _temporal(client: Temporal) -> None:
    await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timedelta(seconds=2))


@router.get(
    "/health/ready", response_model=Readiness, responses={503: {"description": "A dependency is down"}}
)
async def ready(request: Request) -> Response | Readiness:
    state = request.app.state
    checks = {"postgresql": _postgres(state.database), "temporal": _temporal(state.temporal)}
    results = await asyncio.gather(
        *(asyncio.wait_for(c, CHECK_TIMEOUT) for c in checks.values()), return_exceptions=True
    )
    components = {
        name: "ok" if not isinstance(r, BaseException) else f"down: {type(r).__name__}: {r}"[:300]
        for name, r in zip(checks, results, strict=True)
    }
    failing = [name for name, status in components.items() if status != "ok"]
    if failing:
        return problem(503, "Not ready", f"Unavailable: {', '.join(failing)}", components=components)
    return Readiness(status="ready", components=components)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
