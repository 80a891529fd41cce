"""The pipelines' recorded histories: their workflows as the pipeline's own tests ran them,
replayed by tests/replay/test_replay.py.

Recorded by running a pipeline's tests with `TEMPOLINE_RECORD_<PIPELINE>=VERSION` set (when a
change to its workflows is released, guarded by workflow.patched, under a new VERSION):

    TEMPOLINE_RECORD_PLATFORM=v1 .venv/bin/pytest -q tests/platform
    TEMPOLINE_RECORD_PLATFORM=v2 .venv/bin/pytest -q tests/platform/test_real_executors.py \
        tests/platform/test_end_to_end.py
    TEMPOLINE_RECORD_SCHEDULING=v1 .venv/bin/pytest -q tests/scheduling
    TEMPOLINE_RECORD_INTERVIEWS=v1 .venv/bin/pytest -q tests/interviews/test_pipeline.py
    TEMPOLINE_RECORD_INTERVIEWS=v2 .venv/bin/pytest -q tests/interviews/test_webhooks.py

Each test's closed runs of the pipeline's workflows (its first few) are written to
histories/PIPELINE/VERSION/, never overwritten. They are encrypted by the payload codec as every
real history is, with a key kept here for the purpose: the session's settings use it while
recording.
"""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.crypto import Cipher
from core.temporal import data_converter
from domain.interviews.pipeline import INTERVIEW_WORKFLOW
from domain.interviews.webhooks import WEBHOOK_DELIVERY_WORKFLOW
from domain.platform.contracts import JOB_WORKFLOW
from domain.platform.schedules import SCHEDULED_JOB_WORKFLOW
from domain.scheduling.sync import CALENDAR_SYNC_WORKFLOW

FOLDER = Path(__file__).parent / "histories"
# Each pipeline's recorded workflow types.
WORKFLOWS = {
    "platform": (JOB_WORKFLOW, SCHEDULED_JOB_WORKFLOW),
    "scheduling": (CALENDAR_SYNC_WORKFLOW,),
    "interviews": (INTERVIEW_WORKFLOW, WEBHOOK_DELIVERY_WORKFLOW),
}
RECORDING = {pipeline: os.environ.get(f"TEMPOLINE_RECORD_{pipeline.upper()}") for pipeline in WORKFLOWS}
# Encrypts test histories only; never a deployment's key.
KEY = "dGVtcG9saW5lIHJlcGxheSBoaXN0b3JpZXMgb25seSE="  # b"tempoline replay histories only!"
CONVERTER = data_converter(Cipher(KEY))
PER_TEST = 4  # the first few closed runs of each test: enough paths, a small folder


def recording() -> bool:
    return any(RECORDING.values())


async def record(client: Client, since: datetime, test: str, pipeline: str) -> None:
    """Writes the runs of the pipeline's workflows that `test` started (after `since`) and that
    have closed, unless this version already holds that test's."""
    version = RECORDING[pipeline]
    assert version
    folder = FOLDER / pipeline / version
    if any(folder.glob(f"{test}--*.json")):
        return
    kinds = " OR ".join(f"WorkflowType = '{kind}'" for kind in WORKFLOWS[pipeline])
    query = f"StartTime >= '{since.isoformat()}' AND ExecutionStatus != 'Running' AND ({kinds})"
    runs = sorted([run async for run in client.list_workflows(query)], key=lambda run: run.start_time)
    folder.mkdir(parents=True, exist_ok=True)
    for number, run in enumerate(runs[:PER_TEST], start=1):
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        path = folder / f"{test}--{run.workflow_type}--{number}.json"
        path.write_text(history.to_json())


async def recorder(request: pytest.FixtureRequest, pipeline: str) -> AsyncIterator[None]:
    """The body of a pipeline's autouse fixture: with its TEMPOLINE_RECORD_* set, each test's
    runs become replay histories."""
    if not RECORDING[pipeline] or "temporal" not in request.fixturenames:
        yield
        return
    temporal: WorkflowEnvironment = request.getfixturevalue("temporal")
    since = datetime.now(UTC)
    yield
    await record(temporal.client, since, request.node.name, pipeline)
