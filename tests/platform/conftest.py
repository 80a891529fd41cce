"""Fixtures of the platform's tests."""

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import psycopg
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from core.settings import Settings
from domain.platform.schedules import temporal_schedule_id
from registry import task_queues
from tests.platform.harness import Executors
from tests.replay import recorded_histories
from worker import build_workers


@pytest.fixture
async def serving(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[Executors]:
    executors = Executors()
    async with Dependencies.open(settings) as deps, AsyncExitStack() as stack:
        for w in build_workers(temporal.client, task_queues(deps, ["platform"])):
            await stack.enter_async_context(w)
        executors.stack = stack  # type: ignore[attr-defined]
        yield executors
        executors.release.set()


@pytest.fixture(autouse=True)
async def recorded(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    async for _ in recorded_histories.recorder(request, "platform"):
        yield


@pytest.fixture
async def schedules_deleted(settings: Settings, temporal: WorkflowEnvironment) -> AsyncIterator[None]:
    """Temporal Schedules outlive a test's tables: those a test left are deleted after it."""
    yield
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        left = conn.execute("SELECT tenant_id, id FROM platform_schedules").fetchall()
    for tenant_id, schedule_id in left:
        with contextlib.suppress(RPCError):
            await temporal.client.get_schedule_handle(temporal_schedule_id(tenant_id, schedule_id)).delete()
