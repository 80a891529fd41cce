"""The interview workflow announces its events to webhooks behind workflow.patched: without the
guard, the runs recorded before webhooks (histories/interviews/v1) no longer replay."""

import pytest
from temporalio import workflow
from temporalio.worker import Replayer

from tests.replay import recorded_histories
from tests.replay.test_replay import HISTORIES, _history
from workflows.interview import WEBHOOKS, InterviewWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow


async def test_the_webhooks_guard_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id == WEBHOOKS or patched(patch_id))
    replayer = Replayer(
        workflows=[InterviewWorkflow, WebhookDeliveryWorkflow], data_converter=recorded_histories.CONVERTER
    )
    # (A run cancelled while transcribing reaches no event: it announces nothing either way.)
    recorded = [
        _history(path)
        for name, path in HISTORIES.items()
        if name.startswith("interviews/v1/") and "test_cancel_" not in name
    ]
    assert recorded
    failures = [
        (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure
        for history in recorded
    ]
    # Every recorded run reaches an event (transcribed, analyzed or failed).
    assert all(failure is not None for failure in failures), failures
