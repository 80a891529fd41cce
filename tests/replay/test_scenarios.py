"""The routing workflows' logic with activity doubles (fast, no database or provider): each
scenario asserts its own outcome; the same scenarios produce the recorded replay histories."""

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.replay.scenarios import SCENARIOS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_scenario(name: str, temporal: WorkflowEnvironment):
    workflow_ids = await SCENARIOS[name](temporal.client)
    assert workflow_ids
