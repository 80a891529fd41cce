"""What each bounded context runs on which task queue, and the shared clients its activities get.

A context maps to one or more task queues: its main queue (named after the context) and narrower
ones where a resource needs its own limit.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from activities.dependencies import POOL_SIZE, Dependencies
from activities.google_calendar import CalendarSync
from activities.interview_webhooks import WebhookWork
from activities.interviews import InterviewWork
from activities.platform_store import PlatformStore
from activities.routing_provider import ServiceTitanSync
from activities.routing_store import RoutingStore
from activities.scheduling_store import SchedulingStore
from domain.interviews.pipeline import TASK_QUEUE as INTERVIEWS_QUEUE
from domain.interviews.pipeline import TRANSCRIPTION_QUEUE
from domain.platform.contracts import TASK_QUEUE as PLATFORM_QUEUE
from domain.routing.contracts import TASK_QUEUE as ROUTING_QUEUE
from domain.scheduling.sync import TASK_QUEUE as SCHEDULING_QUEUE
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
            workflows=[InterviewWorkflow, WebhookDeliveryWorkflow],
            activities=[
                work.transcribe_openai,
                work.analyze,
                work.record_status,
                webhooks.plan_webhooks,
                webhooks.webhook_policy,
                webhooks.deliver_webhook,
                webhooks.record_failed,
            ],
            max_concurrent_activities=POOL_SIZE,
            max_concurrent_local_activities=POOL_SIZE // 2,
        ),
        QueueSpec(TRANSCRIPTION_QUEUE, activities=[work.transcribe_local], max_concurrent_activities=1),
    ]


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
