"""Every recorded history replays against today's workflow code: a change to a workflow's
commands that is not guarded by workflow.patched fails here, before it breaks running routings."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.routing import RoutingWorkflow
from workflows.service_job import ServiceJobWorkflow

HISTORIES = {
    path.stem: path.read_text() for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


def test_histories_are_recorded():
    # One per workflow run of every scenario (tests/replay/record.py); none may silently vanish.
    assert len(HISTORIES) >= 8


@pytest.mark.parametrize("name", HISTORIES)
async def test_replays(name: str):
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(
        workflows=[ServiceJobWorkflow, RoutingWorkflow], data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)
