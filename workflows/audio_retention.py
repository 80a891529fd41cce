"""The interviews' audio retention (AudioRetentionWorkflow, started daily by the Temporal
Schedule `interviews-audio-retention` when INTERVIEWS_AUDIO_RETENTION_DAYS is set): the audio of
interviews analyzed longer ago than the period is deleted; transcripts and scorecards stay."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.interviews import InterviewWork
    from domain.interviews.pipeline import RETENTION_WORKFLOW, Purge, Purged

# Deleting files and rows is safe to repeat: a failed run's work is redone by its retry.
PURGE_TIMEOUT = timedelta(hours=1)
PURGE_HEARTBEAT = timedelta(minutes=1)
PURGE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10), maximum_attempts=5)


@workflow.defn(name=RETENTION_WORKFLOW)
class AudioRetentionWorkflow:
    @workflow.run
    async def run(self, purge: Purge) -> Purged:
        return await workflow.execute_activity_method(
            InterviewWork.purge_audio,
            purge,
            start_to_close_timeout=PURGE_TIMEOUT,
            heartbeat_timeout=PURGE_HEARTBEAT,
            retry_policy=PURGE_RETRY,
        )
