"""One run of a platform schedule: makes the run's job and runs it as a child, `job:{job_id}`.

The Temporal Schedule starts this workflow (id `schedule:{schedule_id}-<time>`) with ids only;
its first store call creates the job row, audit trail included, from the schedule's stored spec,
exactly as POST /api/platform/jobs would. It then waits for the job: the schedule's overlap
policy is about jobs, so a run lasts as long as its job. Cancelling this run (overlap
cancel_other) cancels the job, which kills its process first; terminating it (terminate_other)
asks the job to cancel too (parent close policy), so no job is left running unrecorded.
"""

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.platform_store import PlatformStore
    from domain.platform.contracts import JOB_WORKFLOW, TASK_QUEUE, job_workflow_id
    from domain.platform.schedules import SCHEDULED_JOB_WORKFLOW, FromSchedule, ScheduledRun
    from domain.platform.status import JobStatus
    from workflows.store_calls import store


@workflow.defn(name=SCHEDULED_JOB_WORKFLOW)
class PlatformScheduledJobWorkflow:
    @workflow.run
    async def run(self, run: ScheduledRun) -> JobStatus | None:
        """The job's final status; None when there was no job to run (the schedule was deleted
        before this run started) or it ended in Temporal's own way (its row says how)."""
        start = await store(
            PlatformStore.from_schedule,
            FromSchedule(schedule_id=run.schedule_id, run_workflow_id=workflow.info().workflow_id),
        )
        if start is None:
            workflow.logger.warning("schedule %s is gone: no job for this run", run.schedule_id)
            return None
        try:
            return await workflow.execute_child_workflow(
                JOB_WORKFLOW,
                start,
                id=job_workflow_id(start.job_id),
                task_queue=TASK_QUEUE,
                result_type=JobStatus,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=start.search_attributes(),
                priority=start.fairness(),
            )
        except ChildWorkflowError:
            # Cancelled or terminated in Temporal: the job recorded it (or its retry through the
            # API runs on, outside this run).
            return None
