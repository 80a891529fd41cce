"""A workflow whose tasks fail and an activity that fails once: the SDK emits its failure
metrics only after a failure, and the alert rules watch those metrics."""

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

QUEUE = f"ops-failing-{uuid.uuid4()}"


@activity.defn(name="ops.fails_once")
async def fails_once() -> None:
    if activity.info().attempt == 1:
        raise RuntimeError("first attempt fails")


@workflow.defn(name="OpsFailsOnce")
class FailsOnce:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            fails_once,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),
        )


@workflow.defn(name="OpsBrokenTask")
class BrokenTask:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug: this workflow task fails and is retried")


def worker(client: Client) -> Worker:
    return Worker(client, task_queue=QUEUE, workflows=[FailsOnce, BrokenTask], activities=[fails_once])
