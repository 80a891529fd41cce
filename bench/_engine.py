"""The bare engine's workflows for bench.routing and bench.platform, in a module of their own.

The workflow sandbox loads a workflow's module again for every run, so this module holds the
workflows alone, as workflows/ does, and imports the rest passed through, as they do.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.workflow import ParentClosePolicy

# The activity calls a routed job makes since #17 (bench/_engine_work.py).
SHAPED_STEPS = 6

with workflow.unsafe.imports_passed_through():
    from bench._engine_work import Work, step
    from domain import search_attributes as sa
    from workflows.routing import PROVIDER_HEARTBEAT, PROVIDER_TIMEOUT
    from workflows.store_calls import STORE_TIMEOUT


async def _step(
    work: Work, n: int, limit: timedelta = STORE_TIMEOUT, heartbeat: timedelta | None = None
) -> Work:
    return await workflow.execute_activity(
        step,
        work.model_copy(update={"step": n}),
        start_to_close_timeout=limit,
        heartbeat_timeout=heartbeat,
    )


@workflow.defn(name="BenchBareRouting")
class BareWorkflow:
    """The bare engine: one workflow, `work.last_step` no-op activities one after the other
    (ACTIVITIES_PER_JOB unless the benchmark says otherwise)."""

    @workflow.run
    async def run(self, work: Work) -> None:
        for n in range(1, work.last_step + 1):
            work = await _step(work, n)


@workflow.defn(name="BenchShapedJob")
class ShapedJobWorkflow:
    """The engine work of a routed job with no-op activities: ServiceJob's two activities and
    child start, then ShapedRoutingWorkflow. Optional (`shaped`): splits routing's cost in two."""

    @workflow.run
    async def run(self, work: Work) -> None:
        work = work.model_copy(update={"last_step": SHAPED_STEPS})
        for n in range(1, 3):
            work = await _step(work, n)
        await workflow.start_child_workflow(
            ShapedRoutingWorkflow.run,
            work,
            id=f"{workflow.info().workflow_id}:routing",
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.TENANT_ID, "bench"),
                    SearchAttributePair(sa.RECEIVING_COMPANY, "bench"),
                    SearchAttributePair(sa.ROUTING_STATUS, "pending"),
                ]
            ),
        )


@workflow.defn(name="BenchShapedRouting")
class ShapedRoutingWorkflow:
    """RoutingWorkflow's path to synced: the same search-attribute upserts, activity options and
    order, then the follow timer it waits on."""

    @workflow.run
    async def run(self, work: Work) -> None:
        workflow.upsert_search_attributes(
            [sa.ROUTING_STATUS.value_set("syncing"), sa.PROVIDER.value_set("servicetitan")]
        )
        work = await _step(work, 3)
        work = await _step(work, 4, PROVIDER_TIMEOUT, PROVIDER_HEARTBEAT)  # sync_customer
        work = await _step(work, 5, PROVIDER_TIMEOUT, PROVIDER_HEARTBEAT)  # book
        workflow.upsert_search_attributes([sa.ROUTING_STATUS.value_set("synced")])
        work = await _step(work, SHAPED_STEPS)
        await workflow.sleep(timedelta(minutes=15))
