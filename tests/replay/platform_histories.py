"""The platform's recorded histories: the job and scheduled-job workflows as the platform tests
(tests/platform/) ran them, replayed by tests/replay/test_replay.py.

Recorded by running those tests with `TEMPOLINE_RECORD_PLATFORM=VERSION` set (when a change to
the platform's workflows is released, guarded by workflow.patched, under a new VERSION):

    TEMPOLINE_RECORD_PLATFORM=v1 .venv/bin/pytest -q tests/platform

Each test's closed job workflows (its first few) are written to histories/platform/VERSION/,
never overwritten. They are encrypted by the payload codec as every real history is, with a
key kept here for the purpose: the session's settings use it while recording.
"""

import os
from datetime import datetime
from pathlib import Path

from temporalio.client import Client

from core.crypto import Cipher
from core.temporal import data_converter
from domain.platform.contracts import JOB_WORKFLOW
from domain.platform.schedules import SCHEDULED_JOB_WORKFLOW

FOLDER = Path(__file__).parent / "histories" / "platform"
RECORDING = os.environ.get("TEMPOLINE_RECORD_PLATFORM")
# Encrypts test histories only; never a deployment's key.
KEY = "dGVtcG9saW5lIHJlcGxheSBoaXN0b3JpZXMgb25seSE="  # b"tempoline replay histories only!"
CONVERTER = data_converter(Cipher(KEY))
PER_TEST = 4  # the first few closed runs of each test: enough paths, a small folder


async def record(client: Client, since: datetime, test: str) -> None:
    """Writes the runs of the platform's workflows that `test` started (after `since`) and that
    have closed, unless this version already holds that test's."""
    assert RECORDING
    folder = FOLDER / RECORDING
    if any(folder.glob(f"{test}--*.json")):
        return
    query = (
        f"StartTime >= '{since.isoformat()}' AND ExecutionStatus != 'Running'"
        f" AND (WorkflowType = '{JOB_WORKFLOW}' OR WorkflowType = '{SCHEDULED_JOB_WORKFLOW}')"
    )
    runs = sorted([run async for run in client.list_workflows(query)], key=lambda run: run.start_time)
    folder.mkdir(parents=True, exist_ok=True)
    for number, run in enumerate(runs[:PER_TEST], start=1):
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        path = folder / f"{test}--{run.workflow_type}--{number}.json"
        path.write_text(history.to_json())
