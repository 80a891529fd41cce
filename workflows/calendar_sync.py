"""A chosen calendar kept in sync with Google.

CalendarSyncWorkflow (`calendar-sync:{calendar_id}`) lives as long as the calendar is chosen:
it syncs when asked (a push notification, the calendar's Temporal Schedule, `POST .../sync`),
keeps a push channel open (renewed before it expires, the old one stopped once the new one is
open), waits for the user when Google refuses their authorization, and continues as new with
all its state before its history grows long. Requests that arrive during a sync coalesce into
the next one.

CalendarPeriodicSyncWorkflow is what the calendar's Schedule starts: it asks for a sync.
"""

import asyncio
import contextlib
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.google_calendar import CALENDAR_GONE, REAUTHORIZATION_REQUIRED, CalendarSync
    from activities.scheduling_store import SchedulingStore
    from domain import search_attributes as sa
    from domain.scheduling.sync import (
        CALENDAR_SYNC_WORKFLOW,
        PERIODIC_SYNC_WORKFLOW,
        CalendarSyncState,
        Channel,
        ChannelsStop,
        Progress,
        Signals,
        SyncAsk,
        SyncFailure,
        SyncRequest,
        SyncResult,
        SyncStatus,
        Updates,
        WatchRequest,
        hold_until,
        workflow_id,
    )
    from domain.scheduling.writes import EventWrite, WriteRequest, Written
    from workflows import workflow_cancel
    from workflows.failures import cause_of
    from workflows.store_calls import store

# A 100,000-event calendar lists in about a minute; the heartbeat (every page) catches a dead
# worker long before the attempt's timeout.
SYNC_TIMEOUT = timedelta(minutes=30)
SYNC_HEARTBEAT = timedelta(seconds=10)
# 429 and 403 rateLimitExceeded back off exponentially (or after Google's Retry-After); quota
# errors wait for their window (next_retry_delay). Past these attempts the sync ends in error
# and the next request (the periodic one at the latest) tries again.
SYNC_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=10,
    non_retryable_error_types=[REAUTHORIZATION_REQUIRED, CALENDAR_GONE],
)
# A write is one call: retried for a while (the caller waits), then reported as failed.
WRITE_TIMEOUT = timedelta(seconds=60)
WRITE_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
    non_retryable_error_types=[REAUTHORIZATION_REQUIRED, CALENDAR_GONE],
)
CHANNEL_TIMEOUT = timedelta(seconds=60)
CHANNEL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)
# After a watch failed for good, the next try (the periodic sync keeps the calendar fresh meanwhile).
WATCH_AGAIN_AFTER = timedelta(minutes=15)


@workflow.defn(name=CALENDAR_SYNC_WORKFLOW)
class CalendarSyncWorkflow:
    @workflow.init
    def __init__(self, state: CalendarSyncState) -> None:
        self._s = state
        # A sync and a write never overlap: a page listed before a write cannot overwrite it.
        self._google = asyncio.Lock()

    # -- what people and Google ask of it ---------------------------------------------------------

    @workflow.query
    def progress(self) -> Progress:
        return Progress(
            status=self._s.status, pending=self._due(), last=self._s.last, channel=self._s.channel
        )

    @workflow.signal(name=Signals.NOTIFIED)
    def notified(self) -> None:
        now = workflow.now()
        self._s.first_notified = self._s.first_notified or now
        self._s.last_notified = now
        self._ask(urgent=False)

    @workflow.signal(name=Signals.PERIODIC)
    def periodic(self) -> None:
        self._ask()

    @workflow.signal(name=Signals.RECONNECTED)
    def reconnected(self) -> None:
        """The user connected again: the sync resumes where it stopped (its token and cursor)."""
        if self._s.status is SyncStatus.REAUTHORIZATION_REQUIRED:
            self._s.status = SyncStatus.IDLE
            self._ask()

    @workflow.update(name=Updates.SYNC)
    async def sync(self, ask: SyncAsk) -> SyncResult:
        ticket = self._ask(full=ask.full)
        await workflow.wait_condition(lambda: self._s.done >= ticket or self._ended())
        return self._result()

    @sync.validator
    def _can_sync(self, ask: SyncAsk) -> None:
        if self._s.stopping or self._ended():
            raise ApplicationError("the calendar's sync is stopping", type="Conflict")
        if self._s.status is SyncStatus.REAUTHORIZATION_REQUIRED:
            raise ApplicationError(
                "Google no longer accepts the user's authorization: connect again",
                type="ReauthorizationRequired",
            )

    @workflow.update(name=Updates.WRITE)
    async def write(self, write: EventWrite) -> Written:
        async with self._google:
            try:
                return await workflow.execute_activity_method(
                    CalendarSync.write,
                    WriteRequest(calendar_id=self._s.calendar_id, write=write),
                    start_to_close_timeout=WRITE_TIMEOUT,
                    retry_policy=WRITE_RETRY,
                )
            except ActivityError as error:
                workflow_cancel.raise_if_canceled(error)
                kind, message = cause_of(error)
                if kind == REAUTHORIZATION_REQUIRED:
                    self._set_status(SyncStatus.REAUTHORIZATION_REQUIRED)
                raise ApplicationError(message, type=kind or "WriteFailed") from None

    @write.validator
    def _can_write(self, write: EventWrite) -> None:
        self._can_sync(SyncAsk())

    @workflow.update(name=Updates.STOP)
    async def stop(self) -> SyncResult:
        self._s.stopping = True
        await workflow.wait_condition(self._ended)
        return self._result()

    def _ask(self, full: bool = False, urgent: bool = True) -> int:
        self._s.asked += 1
        self._s.full_asked = self._s.full_asked or full
        self._s.urgent = self._s.urgent or urgent
        return self._s.asked

    def _due(self) -> bool:
        return self._s.asked > self._s.done and self._s.status is not SyncStatus.REAUTHORIZATION_REQUIRED

    def _ended(self) -> bool:
        return self._s.status is SyncStatus.STOPPED

    def _result(self) -> SyncResult:
        if self._ended() or self._s.last is None:
            return SyncResult(status=self._s.status, error=self._s.last.error if self._s.last else None)
        return self._s.last

    # -- the process ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, state: CalendarSyncState) -> SyncResult:
        try:
            while not self._s.stopping:
                await self._keep_channel()
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._s.stopping or self._due() or self._renewal_due(),
                        timeout=self._until_renewal(),
                    )
                if self._s.stopping:
                    break
                if self._due():
                    if await self._held():
                        continue
                    await self._sync()
                if self._s.syncs >= self._s.syncs_per_run or workflow.info().is_continue_as_new_suggested():
                    # Handlers waiting on a sync are answered first; a request that comes in
                    # meanwhile is served by this run.
                    await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._due())
                    if not self._due() and not self._s.stopping:
                        self._s.syncs = 0
                        workflow.continue_as_new(self._s)
            await self._end("stopped: the calendar is no longer synced")
        except asyncio.CancelledError:
            # Temporal's own cancel (Web UI, `temporal workflow cancel`): recorded, channels stopped.
            await self._end("stopped: the sync workflow was cancelled")
            raise
        return self._result()

    async def _held(self) -> bool:
        """Waits while notifications of one burst are still coming; True if it waited."""
        hold = hold_until(self._s)
        if hold is None or hold <= workflow.now():
            return False
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._s.stopping or self._s.urgent, timeout=hold - workflow.now()
            )
        return True

    async def _sync(self) -> None:
        target, full = self._s.asked, self._s.full_asked
        self._s.full_asked, self._s.urgent = False, False
        self._s.first_notified = self._s.last_notified = None
        self._set_status(SyncStatus.SYNCING)
        try:
            async with self._google:
                outcome = await workflow.execute_activity_method(
                    CalendarSync.sync,
                    SyncRequest(calendar_id=self._s.calendar_id, full=full),
                    start_to_close_timeout=SYNC_TIMEOUT,
                    heartbeat_timeout=SYNC_HEARTBEAT,
                    retry_policy=SYNC_RETRY,
                )
            result = SyncResult(status=SyncStatus.OK, outcome=outcome, finished_at=workflow.now())
        except ActivityError as error:
            workflow_cancel.raise_if_canceled(error)
            kind, message = cause_of(error)
            status = (
                SyncStatus.REAUTHORIZATION_REQUIRED if kind == REAUTHORIZATION_REQUIRED else SyncStatus.ERROR
            )
            # A full sync asked for and not done is still asked for.
            self._s.full_asked = self._s.full_asked or full
            result = SyncResult(status=status, error=message, finished_at=workflow.now())
            await store(
                SchedulingStore.record_status,
                SyncFailure(calendar_id=self._s.calendar_id, status=status, error=message),
            )
        self._s.done, self._s.last = target, result
        self._s.syncs += 1
        self._set_status(result.status)

    def _set_status(self, status: SyncStatus) -> None:
        self._s.status = status
        workflow.upsert_search_attributes([sa.CALENDAR_SYNC_STATUS.value_set(status.value)])

    # -- push channels ----------------------------------------------------------------------------

    def _renewal_due(self) -> bool:
        until = self._until_renewal()
        return until is not None and until <= timedelta(0)

    def _until_renewal(self) -> timedelta | None:
        """How long until the channel is renewed (or a failed watch is tried again)."""
        if not self._s.push or self._s.status is SyncStatus.REAUTHORIZATION_REQUIRED:
            return None
        due = self._s.channel.renew_at() if self._s.channel else None
        if self._s.watch_after is not None:
            due = max(due, self._s.watch_after) if due else self._s.watch_after
        return max(due - workflow.now(), timedelta(0)) if due else timedelta(0)

    async def _keep_channel(self) -> None:
        """Opens the first channel, and the next one before the current one expires; the old
        one is stopped once the new one is open. A watch that fails for good is stopped too (it
        may have been opened at Google all the same) and tried again later."""
        if not self._renewal_due() or self._s.stopping:
            return
        current = self._s.channel
        self._s.channels_opened += 1
        try:
            opened = await workflow.execute_activity_method(
                CalendarSync.watch,
                WatchRequest(calendar_id=self._s.calendar_id, number=self._s.channels_opened),
                start_to_close_timeout=CHANNEL_TIMEOUT,
                retry_policy=CHANNEL_RETRY,
            )
        except ActivityError as error:
            workflow_cancel.raise_if_canceled(error)
            workflow.logger.warning("watch failed: %s", cause_of(error)[1])
            self._s.watch_after = workflow.now() + WATCH_AGAIN_AFTER
            if current is not None and current.expires_at <= workflow.now():
                self._s.channel = current = None
            await self._stop_channels(keep=current)
            return
        if opened is None:  # no webhook address: the periodic sync alone
            self._s.push = False
            return
        # On the workflow's clock: its life as Google gave it, from now (a worker's clock that
        # is off cannot make it look expired at once, and renewed over and over).
        now = workflow.now()
        opened = opened.model_copy(
            update={"created_at": now, "expires_at": now + (opened.expires_at - opened.created_at)}
        )
        self._s.channel, self._s.watch_after = opened, None
        if current is not None:
            await self._stop_channels(keep=opened)

    async def _stop_channels(self, keep: Channel | None) -> None:
        with contextlib.suppress(ActivityError):
            await workflow.execute_activity_method(
                CalendarSync.stop_channels,
                ChannelsStop(calendar_id=self._s.calendar_id, keep=keep.id if keep else None),
                start_to_close_timeout=CHANNEL_TIMEOUT,
                retry_policy=CHANNEL_RETRY,
            )

    async def _end(self, why: str) -> None:
        await self._stop_channels(keep=None)
        self._s.channel = None
        await store(
            SchedulingStore.record_status,
            SyncFailure(calendar_id=self._s.calendar_id, status=SyncStatus.STOPPED, error=why),
        )
        self._set_status(SyncStatus.STOPPED)


@workflow.defn(name=PERIODIC_SYNC_WORKFLOW)
class CalendarPeriodicSyncWorkflow:
    """Started by the calendar's Schedule: asks the calendar's workflow for a sync."""

    @workflow.run
    async def run(self, calendar_id: uuid.UUID) -> bool:
        handle = workflow.get_external_workflow_handle(workflow_id(calendar_id))
        try:
            await handle.signal(Signals.PERIODIC)
        except ApplicationError:
            return False  # the calendar's sync has ended; its schedule goes with it
        return True
