"""A minimal workflow and activity for testing the worker plumbing (kept in its own module so the
workflow sandbox imports nothing but what a real workflow module would)."""

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.logging import get_logger


class Greeting(BaseModel):
    name: str


@activity.defn(name="plumbing_greet")
async def greet(greeting: Greeting) -> str:
    get_logger("test").info("greeting", name_length=len(greeting.name))
    activity.logger.info("greeting through the SDK's logger")
    return f"hello {greeting.name}"


@activity.defn(name="plumbing_refuse")
async def refuse(greeting: Greeting) -> str:
    # A provider's error text may quote what it was sent.
    raise ApplicationError(f"provider refused {greeting.name}", non_retryable=True)


@activity.defn(name="plumbing_flaky")
async def flaky(greeting: Greeting) -> str:
    if activity.info().attempt == 1:
        raise ApplicationError("the first attempt fails")
    return f"hello {greeting.name}"


@workflow.defn(name="PlumbingFlakyWorkflow")
class FlakyWorkflow:
    """An activity that fails once: the SDK logs that failure outside our interceptor."""

    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        return await workflow.execute_activity(
            flaky,
            greeting,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )


@workflow.defn(name="PlumbingWorkflow")
class PlumbingWorkflow:
    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        return await workflow.execute_activity(greet, greeting, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name="PlumbingLocalWorkflow")
class LocalWorkflow:
    """The same activity, run as a local activity (as the store calls are)."""

    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        return await workflow.execute_local_activity(
            greet, greeting, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="PlumbingReminderWorkflow")
class ReminderWorkflow:
    """A durable timer of a day, then one activity: what time-skipping tests are for."""

    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        await workflow.sleep(timedelta(days=1))
        return await workflow.execute_activity(greet, greeting, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name="PlumbingRefusedWorkflow")
class RefusedWorkflow:
    """One activity that fails for good, failing the workflow with its message."""

    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        return await workflow.execute_activity(
            refuse,
            greeting,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
