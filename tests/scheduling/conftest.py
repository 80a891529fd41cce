from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.replay import recorded_histories
from tests.scheduling.google_world import serving_scheduling


@pytest.fixture
async def scheduling(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[None]:
    """The scheduling task queue served in-process for the test."""
    async with serving_scheduling(settings, temporal.client):
        yield


@pytest.fixture(autouse=True)
async def recorded(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    async for _ in recorded_histories.recorder(request, "scheduling"):
        yield
