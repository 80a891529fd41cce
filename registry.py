"""What each bounded context runs on which task queue, and the shared clients its activities get.

A context maps to one or more task queues: its main queue (named after the context) and narrower
ones where a resource needs its own limit.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.dependencies import POOL_SIZE, Dependencies
from activities.google_calendar import CalendarSync
from activities.interview_webhooks import WebhookWork
from activities.interviews import InterviewWork
from activities.platform_store import PlatformStore
from activities.routing_provider import ServiceTitanSync
from activities.routing_store import RoutingStore
from activities.scheduling_store import SchedulingStore
from core.settings import Settings
from domain.interviews.pipeline import RETENTION_ID, RETENTION_WORKFLOW, TRANSCRIPTION_QUEUE, Purge
from domain.interviews.pipeline import TASK_QUEUE as INTERVIEWS_QUEUE
from domain.platform.contracts import TASK_QUEUE as PLATFORM_QUEUE
from domain.routing.contracts import TASK_QUEUE as ROUTING_QUEUE
from domain.scheduling.sync import TASK_QUEUE as SCHEDULING_QUEUE
from workflows.audio_retention import AudioRetentionWorkflow
from workflows.calendar_sync import CalendarPeriodicSyncWorkflow, CalendarSyncWorkflow
from workflows.interview import InterviewWorkflow
from workflows.platform import PlatformJobWorkflow
from workflows.platform_schedule import PlatformScheduledJobWorkflow
from workflows.routing import RoutingWorkflow
from workflows.service_job import ServiceJobWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow


@dataclass(frozen=True)
class QueueSpec:
    name: str
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()
    max_activities_per_second: float | None = None
    max_concurrent_activities: int | None = None
    max_concurrent_local_activities: int | None = None
    # Run by the worker before it polls: what the queue's workflows need to exist in Temporal.
    prepare: Callable[[Client], Awaitable[None]] | None = None


def routing(deps: Dependencies) -> list[QueueSpec]:
    store, servicetitan = RoutingStore(deps), ServiceTitanSync(deps)
    return [
        QueueSpec(
            ROUTING_QUEUE,
            workflows=[ServiceJobWorkflow, RoutingWorkflow],
            activities=[
                store.save_job,
                store.load_candidates,
                store.save_job_with_candidates,
                store.create_routings,
                store.provider_of,
                store.record,
                store.record_changes,
                store.write_ledger,
                servicetitan.sync,
                servicetitan.sync_customer,
                servicetitan.book,
                servicetitan.follow,
            ],
            # A running activity may hold two pooled connections at once (the customer step's
            # advisory lock, and the rate limiter's slot), and the pool has 2 * POOL_SIZE.
            max_concurrent_activities=POOL_SIZE,
            # Store calls (local activities) wait for a worker slot rather than for a pooled
            # connection, whose checkout gives up after 10 s.
            max_concurrent_local_activities=POOL_SIZE // 2,
        )
    ]


def platform(deps: Dependencies) -> list[QueueSpec]:
    """The job workflows, the runs of schedules that start them, and their store calls. The run
    activity is not here: each executor process serves it on its own queue
    (platform-executor-{worker_id})."""
    store = PlatformStore(deps)
    return [
        QueueSpec(
            PLATFORM_QUEUE,
            workflows=[PlatformJobWorkflow, PlatformScheduledJobWorkflow],
            activities=[
                store.enqueue,
                store.started,
                store.finish,
                store.expire,
                store.cancel,
                store.from_schedule,
            ],
            max_concurrent_activities=POOL_SIZE,
            max_concurrent_local_activities=POOL_SIZE // 2,
        )
    ]


def scheduling(deps: Dependencies) -> list[QueueSpec]:
    """Each chosen calendar's sync workflow, the Schedule's runs that ask it to sync, the Google
    Calendar activities (the client runs in threads) and the store calls."""
    google, store = CalendarSync(deps), SchedulingStore(deps)
    return [
        QueueSpec(
            SCHEDULING_QUEUE,
            workflows=[CalendarSyncWorkflow, CalendarPeriodicSyncWorkflow],
            activities=[google.sync, google.write, google.watch, google.stop_channels, store.record_status],
            # A sync holds one pooled connection at a time, for one page's transaction.
            max_concurrent_activities=POOL_SIZE,
            max_concurrent_local_activities=POOL_SIZE // 2,
        )
    ]


def interviews(deps: Dependencies) -> list[QueueSpec]:
    """Each interview's workflow and its analysis calls, and the deliveries of its webhooks;
    offline transcription on a queue of its own, one at a time per worker process (it keeps the
    CPU busy for minutes)."""
    work, webhooks = InterviewWork(deps), WebhookWork(deps)
    return [
        QueueSpec(
            INTERVIEWS_QUEUE,
            workflows=[InterviewWorkflow, WebhookDeliveryWorkflow, AudioRetentionWorkflow],
            activities=[
                work.transcribe_openai,
                work.start_google,
                work.poll_google,
                work.analyze,
                work.record_status,
                work.purge_audio,
                webhooks.plan_webhooks,
                webhooks.webhook_policy,
                webhooks.deliver_webhook,
                webhooks.record_failed,
            ],
            max_concurrent_activities=POOL_SIZE,
            max_concurrent_local_activities=POOL_SIZE // 2,
            prepare=lambda client: audio_retention(client, deps.settings),
        ),
        QueueSpec(TRANSCRIPTION_QUEUE, activities=[work.transcribe_local], max_concurrent_activities=1),
    ]


async def audio_retention(client: Client, settings: Settings) -> None:
    """The daily schedule of the audio retention, as the settings say: made or updated when
    INTERVIEWS_AUDIO_RETENTION_DAYS is set, deleted when it is not. Every interviews worker does
    this at start; the last one started wins, and they all run the same configuration."""
    handle = client.get_schedule_handle(RETENTION_ID)
    days = settings.interviews_audio_retention_days
    if days is None:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_WORKFLOW, Purge(days=days), id=RETENTION_ID, task_queue=INTERVIEWS_QUEUE
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(RETENTION_ID, schedule)
    except ScheduleAlreadyRunningError:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))


# Each pipeline as it lands: context name → factory of its queues.
CONTEXTS: dict[str, Callable[[Dependencies], list[QueueSpec]]] = {
    "scheduling": scheduling,
    "interviews": interviews,
    "routing": routing,
    "platform": platform,
}


def task_queues(deps: Dependencies, selected: Sequence[str] = ()) -> list[QueueSpec]:
    """The queues for the selected contexts (or task queue names); all built contexts by default."""
    every = {name: factory(deps) for name, factory in CONTEXTS.items()}
    if not selected:
        specs = [spec for specs in every.values() for spec in specs]
    else:
        specs = []
        for wanted in selected:
            if wanted in every:
                specs += every[wanted]
                continue
            by_queue = [s for group in every.values() for s in group if s.name == wanted]
            if not by_queue:
                raise SystemExit(f"--queues: {wanted!r} is unknown; available: {', '.join(sorted(every))}")
            specs += by_queue
    return specs
