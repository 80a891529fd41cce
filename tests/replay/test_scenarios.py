"""The routing workflows' logic with activity doubles (fast, no database or provider): each
scenario asserts its own outcome; the same scenarios produce the recorded replay histories."""

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.replay.scenarios import SCENARIOS

LIVE = sorted(name for name, scenario in SCENARIOS.items() if not scenario.time_skipping)
SKIPPING = sorted(name for name, scenario in SCENARIOS.items() if scenario.time_skipping)


@pytest.mark.parametrize("name", LIVE)
async def test_scenario(name: str, temporal: WorkflowEnvironment):
    assert await SCENARIOS[name].run(temporal.client)


@pytest.mark.parametrize("name", SKIPPING)
async def test_time_skipping_scenario(name: str, time_skipping: WorkflowEnvironment):
    assert await SCENARIOS[name].run(time_skipping.client)
