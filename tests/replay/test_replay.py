"""Every recorded history replays against today's workflow code: a change to a workflow's
commands that is not guarded by workflow.patched fails here, before it breaks running routings.

histories/VERSION/ holds what each released version recorded (tests/replay/record.py), never
re-recorded; histories/unpatched/PATCH/ what the code before PATCH did, which replays only
because the guard sends it down the old path."""

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.replay import recorded_histories
from tests.replay.scenarios import PATCHED, SCENARIOS
from workflows.calendar_sync import CalendarSyncWorkflow
from workflows.interview import InterviewWorkflow
from workflows.platform import PlatformJobWorkflow
from workflows.platform_schedule import PlatformScheduledJobWorkflow
from workflows.routing import CANCEL_ANSWERS_PROMPTLY, CANCEL_IS_NOT_A_FAILURE, RoutingWorkflow
from workflows.service_job import ServiceJobWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

ROOT = Path(__file__).parent / "histories"
# Guards whose two branches send the same commands (replay cannot tell them apart): each is
# tested live both ways in test_requests.
SAME_COMMANDS = (CANCEL_ANSWERS_PROMPTLY, CANCEL_IS_NOT_A_FAILURE)
# The platform tests (tests/platform/) whose recorded runs cover the job workflow's paths.
PLATFORM_PATHS = (
    "test_a_job_runs_and_every_step_is_audited",
    "test_a_failing_command_is_retried_to_max_attempts_then_failed",
    "test_run_timeout_ends_timed_out_without_retry",
    "test_cancel_kills_the_process_before_the_job_is_cancelled",
    "test_temporals_own_cancel_is_recorded_after_the_process_died",
    "test_a_dead_workers_job_runs_again_elsewhere_and_its_late_result_is_refused",
    "test_a_job_with_no_worker_waits_with_its_reason_then_times_out",
    "test_two_cancels_in_one_workflow_task_the_second_is_refused",
    "test_list_show_logs_cancel_retry_workers_and_tokens",
    "test_an_interval_schedule_runs_complete_jobs_and_pauses_triggers_deletes",
    "test_a_run_that_replaces_a_running_one_cancels_its_job[cancel_other]",
)
# The real-executor tests, recorded once the executor had the API record RUNNING (the signal
# says `recorded`: no `platform.started` store call): success, failure, cancel, run timeout,
# Temporal's cancel, an executor's death, priority and concurrency keys.
PLATFORM_V2_PATHS = (
    "test_jobs_run_on_a_real_executor",
    "test_output_and_events_stream_live_and_resume",
    "test_every_way_of_stopping_a_job_kills_its_whole_process_group",
    "test_a_job_outlives_its_executors_death_and_a_frozen_executors_late_result_is_refused",
    "test_priority_fairness_and_concurrency_keys_hold_on_real_executors",
)
# The scheduling tests whose recorded runs cover the calendar sync's paths: full and incremental
# syncs, 410, rate limits, reauthorization and reconnect, push channels, two-way writes, stop,
# continue-as-new, Temporal's cancel.
SCHEDULING_PATHS = (
    "test_a_chosen_calendar_is_synced_in_full_then_its_changes_arrive_incrementally",
    "test_an_expired_sync_token_ends_in_an_exact_full_resync",
    "test_a_burst_of_rate_limit_refusals_is_ridden_out",
    "test_a_revoked_authorization_pauses_the_calendar_until_the_user_connects_again",
    "test_changes_at_google_arrive_by_push_and_bursts_coalesce",
    "test_forged_unknown_and_stopped_channels_are_refused_or_ignored",
    "test_an_event_created_through_the_api_is_made_once_even_when_its_answer_is_lost",
    "test_calendars_and_their_syncs_are_tenant_scoped",
    "test_state_set_by_messages_is_carried_across_continue_as_new",
    "test_waits_end_with_the_workflow_and_a_pending_stop_refuses_syncs",
    "test_temporals_own_cancel_is_recorded_on_the_calendar",
)
# The interview tests whose runs cover the interview workflow's paths: analyzed, a model handing
# over, analysis_failed and reanalyze, a silent recording.
INTERVIEW_PATHS = (
    "test_a_recording_is_transcribed_and_analyzed_into_a_scorecard_of_what_was_said",
    "test_an_untrustworthy_model_hands_over_and_reanalyze_starts_from_the_transcript",
    "test_a_silent_recording_fails_the_interview_with_its_reason",
    "test_google_recognizes_with_speakers_and_reports_its_progress",
    "test_a_worker_killed_while_google_recognizes_polls_the_same_operation",
    "test_cancel_stops_the_offline_transcription_then_says_cancelled",
)
# The webhook tests whose runs cover the events the interview announces and a delivery's paths:
# delivered, retried after Retry-After, out of attempts then redelivered, 410 Gone.
WEBHOOK_PATHS = (
    "test_an_analyzed_interview_sends_signed_events_that_carry_no_personal_data",
    "test_a_failing_receiver_is_retried_after_its_retry_after_until_delivered",
    "test_out_of_attempts_a_delivery_fails_and_redeliver_sends_the_same_body",
    "test_a_receiver_that_answers_410_is_not_sent_anything_more",
)
HISTORIES = {str(path.relative_to(ROOT).with_suffix("")): path for path in sorted(ROOT.rglob("*.json"))}


def _replayer(name: str = "") -> Replayer:
    if name.startswith("platform/"):
        workflows = [PlatformJobWorkflow, PlatformScheduledJobWorkflow]
        return Replayer(workflows=workflows, data_converter=recorded_histories.CONVERTER)
    if name.startswith("scheduling/"):
        return Replayer(workflows=[CalendarSyncWorkflow], data_converter=recorded_histories.CONVERTER)
    if name.startswith("interviews/"):
        workflows = [InterviewWorkflow, WebhookDeliveryWorkflow]
        return Replayer(workflows=workflows, data_converter=recorded_histories.CONVERTER)
    return Replayer(workflows=[ServiceJobWorkflow, RoutingWorkflow], data_converter=pydantic_data_converter)


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


# Without its guard, cancel_while_booking as recorded before it still replays: the SDK does not
# flag the 5 s timer the new branch adds there. The branch itself is proven live
# (tests/replay/test_requests.py::test_a_cancel_answers_within_its_patience_only_when_patched).


def test_histories_are_recorded():
    # None may silently vanish: the first version's eight, every scenario in the latest version,
    # every patch's.
    assert sum(name.startswith("v1/") for name in HISTORIES) == 8
    latest = max((p.name for p in ROOT.glob("v*")), key=lambda version: int(version[1:]))
    for scenario in SCENARIOS:
        assert any(name.startswith(f"{latest}/{scenario}--") for name in HISTORIES), scenario
    for patch in PATCHED:
        assert any(name.startswith(f"unpatched/{patch}/") for name in HISTORIES), patch
    # The platform's: each path of the job workflow, and a scheduled job.
    for test in PLATFORM_PATHS:
        assert any(name.startswith("platform/v1/" + test + "--") for name in HISTORIES), test
    for test in PLATFORM_V2_PATHS:
        assert any(name.startswith("platform/v2/" + test + "--") for name in HISTORIES), test
    for test in SCHEDULING_PATHS:
        assert any(name.startswith("scheduling/v1/" + test + "--") for name in HISTORIES), test
    for test in INTERVIEW_PATHS:
        assert any(name.startswith("interviews/v1/" + test + "--") for name in HISTORIES), test
    for test in WEBHOOK_PATHS:
        assert any(name.startswith("interviews/v2/" + test + "--") for name in HISTORIES), test


@pytest.mark.parametrize("name", HISTORIES)
async def test_replays(name: str):
    await _replayer(name).replay_workflow(_history(HISTORIES[name]))


@pytest.mark.parametrize("patch", [patch for patch in PATCHED if patch not in SAME_COMMANDS])
async def test_each_patch_guard_is_needed(patch: str, monkeypatch: pytest.MonkeyPatch):
    """With the guard removed (the new path taken unconditionally), what the code before the
    patch recorded no longer replays."""
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id == patch or patched(patch_id))
    histories = [_history(path) for name, path in HISTORIES.items() if name.startswith(f"unpatched/{patch}/")]
    failures = [
        (await _replayer().replay_workflow(history, raise_on_replay_failure=False)).replay_failure
        for history in histories
    ]
    # Nondeterminism shows as NondeterminismError, or as a fatal error in the SDK's state machines.
    assert any(failure is not None for failure in failures)
