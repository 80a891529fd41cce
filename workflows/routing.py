"""A routing: one service job sent to one partner company, booked into its ServiceTitan.

RoutingWorkflow (`routing:{routing_id}`, started by workflows/service_job.py) is offered,
accepted, booked step by step (customer, then booking), then followed at the provider until it
is completed (a ledger entry) or canceled. When a step fails for good it waits in
needs_attention for a manual retry, which resumes at that step.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.rate_limit import RATE_LIMITED
    from activities.routing_provider import PROVIDER, ServiceTitanSync
    from activities.routing_store import RoutingStore
    from domain import search_attributes as sa
    from domain.routing import RoutingEvent, RoutingStatus, is_terminal, provider_event, transition
    from domain.routing.contracts import (
        OFFER_RESOLVED,
        ROUTING_WORKFLOW,
        BookingSync,
        BookingSynced,
        Completion,
        CustomerSynced,
        LedgerRequest,
        OfferOutcome,
        Progress,
        RoutingSettings,
        RoutingStart,
        StatusChange,
        StatusChanges,
        Step,
        SyncRequest,
        Updates,
    )
    from workflows import workflow_cancel
    from workflows.store_calls import store

A = TypeVar("A")
R = TypeVar("R")
# Provider calls heartbeat every few seconds while they run (activities.heartbeat); a worker
# that dies mid-call is noticed after the heartbeat timeout.
PROVIDER_TIMEOUT = timedelta(minutes=2)
PROVIDER_HEARTBEAT = timedelta(seconds=10)
CANCEL_PATIENCE = timedelta(seconds=5)

# Versioning (workflow.patched): a history recorded before a change replays down the old path,
# since it has no marker; every run that reaches the change after the deploy, an old routing's
# included, records the marker and takes the new path. tests/replay proves each guard matters.
CANCEL_ANSWERS_PROMPTLY = "cancel-answers-promptly"
# A cancel pending when a follow-up run ends is applied, not carried into a fresh run unseen.
CANCEL_BEFORE_CONTINUE_AS_NEW = "cancel-before-continue-as-new"
# Temporal's own cancel (Web UI, `temporal workflow cancel`) is recorded as a cancel.
RECORD_TEMPORAL_CANCEL = "record-temporal-cancel"
# Our rate limiter's deferrals end the activity and the workflow waits for its turn, spending
# no retry attempt (before, each deferral was an attempt).
DEFERRALS_SPEND_NO_ATTEMPT = "rate-limit-deferrals-spend-no-attempt"
# Fewer calls per routing (#17), one patch for the release (each patch costs every run that
# reaches it a marker and a search-attribute upsert):
# - a fan-out routing whose provider came with its start records offered, accepted and syncing
#   in one local activity and one upsert (before: four of each, provider_of included);
# - the customer and booking steps are one activity, routing.servicetitan.sync, which also
#   writes the synced status (before: two activities and a local activity).
FEWER_CALLS = "fewer-calls-per-routing"
# Temporal's own cancel while a call is in flight ends that call canceled: it is recorded as
# the cancel it is (before: taken for a failed call, needs_attention, and the routing lived on).
CANCEL_IS_NOT_A_FAILURE = workflow_cancel.PATCH


def _provider_retry(settings: RoutingSettings, attempts: int, deferrals_end: bool) -> RetryPolicy:
    # Non-retryable errors (bad credentials, a rejected request) are marked so where they are
    # classified (clients.servicetitan.classify); 429/503 carry the provider's Retry-After.
    # With `deferrals_end`, our own rate limiter's deferral ends the activity: the workflow waits
    # for the turn it was given, so waiting for a slot spends none of the `attempts` left.
    return RetryPolicy(
        initial_interval=settings.retry_initial,
        backoff_coefficient=2.0,
        maximum_interval=settings.retry_maximum,
        maximum_attempts=attempts,
        non_retryable_error_types=[RATE_LIMITED] if deferrals_end else None,
    )


def _reason(error: ActivityError) -> str:
    cause = error.cause
    while isinstance(cause, ActivityError | ApplicationError) and cause.cause is not None:
        cause = cause.cause
    return str(cause.message if isinstance(cause, ApplicationError) else cause or error)


@workflow.defn(name=ROUTING_WORKFLOW)
class RoutingWorkflow:
    @workflow.init
    def __init__(self, start: RoutingStart) -> None:
        self._start = start
        self._progress = start.progress
        self._requests = start.requests
        # Status changes made but not yet written (_advance, then _record).
        self._unrecorded: list[StatusChange] = []

    # -- what people can ask of a routing (API, or `temporal workflow update execute`) ----------

    @workflow.query
    def progress(self) -> Progress:
        return self._progress

    @workflow.update(name=Updates.ACCEPT)
    async def accept(self) -> RoutingStatus:
        self._ask(decision=RoutingEvent.ACCEPT)
        return await self._settled(lambda: self._status is not RoutingStatus.OFFERED)

    @workflow.update(name=Updates.DECLINE)
    async def decline(self) -> RoutingStatus:
        self._ask(decision=RoutingEvent.DECLINE)
        return await self._settled(lambda: self._status is not RoutingStatus.OFFERED)

    @workflow.update(name=Updates.RETRY)
    async def retry(self) -> RoutingStatus:
        self._ask(retry=True)
        return await self._settled(lambda: not self._requests.retry)

    @workflow.update(name=Updates.CANCEL)
    async def cancel(self) -> RoutingStatus:
        self._ask(cancel=True)
        if not workflow.patched(CANCEL_ANSWERS_PROMPTLY):
            return await self._settled(lambda: False)
        # A sync step in flight (with its retries) finishes first and the routing is canceled
        # right after it; the caller hears back now, with the status as it stands.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: is_terminal(self._status), timeout=CANCEL_PATIENCE)
        return self._status

    @workflow.update(name=Updates.COMPLETE)
    async def complete(self, completion: Completion) -> RoutingStatus:
        self._ask(completion=completion)
        return await self._settled(lambda: False)

    @accept.validator
    def _can_accept(self) -> None:
        self._check(RoutingEvent.ACCEPT)
        if self._start.accept_timeout is None:
            raise ApplicationError("this routing was sent by fan-out and needs no acceptance")

    @decline.validator
    def _can_decline(self) -> None:
        self._check(RoutingEvent.DECLINE)

    @retry.validator
    def _can_retry(self) -> None:
        self._check(RoutingEvent.RETRY)

    @cancel.validator
    def _can_cancel(self) -> None:
        self._check(RoutingEvent.CANCEL)

    @complete.validator
    def _can_complete(self, completion: Completion) -> None:
        self._check(RoutingEvent.COMPLETE)
        if self._progress.provider is not None:
            raise ApplicationError(
                f"this routing follows its {self._progress.provider} job; it completes there"
            )

    def _check(self, event: RoutingEvent) -> None:
        """Refuses a request the routing's status does not allow, or one that conflicts with a
        request already accepted and not yet acted on (both arrive in one workflow task: the
        second one's validator runs after the first one's handler has recorded it)."""
        try:
            transition(self._status, event)
        except ValueError as exc:
            raise ApplicationError(str(exc), type="InvalidTransition") from None
        pending = self._requests
        if pending.cancel and event is not RoutingEvent.CANCEL:
            conflict = "a cancel is pending"
        elif pending.decision is not None and event in (RoutingEvent.ACCEPT, RoutingEvent.DECLINE):
            conflict = f"the offer is being answered ({pending.decision.value})"
        elif pending.completion is not None and event is RoutingEvent.COMPLETE:
            conflict = "a completion is being recorded"
        else:
            return
        raise ApplicationError(f"cannot {event.value} this routing: {conflict}", type="Conflict")

    def _ask(self, **request: object) -> None:
        self._requests = self._requests.model_copy(update=request)

    async def _settled(self, done: Callable[[], bool]) -> RoutingStatus:
        """Waits until the request is acted on, or the routing has ended (whatever ended it)."""
        await workflow.wait_condition(lambda: done() or is_terminal(self._status))
        return self._status

    # -- the process ------------------------------------------------------------------------------

    @property
    def _status(self) -> RoutingStatus:
        return self._progress.status

    @workflow.run
    async def run(self, start: RoutingStart) -> Progress:
        try:
            await self._live()
        except asyncio.CancelledError:
            if not workflow.patched(RECORD_TEMPORAL_CANCEL):
                raise
            await self._record_temporal_cancel()
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._progress

    async def _live(self) -> None:
        if self._status is RoutingStatus.PENDING and self._known_provider():
            await self._start_at_once()
        if self._status is RoutingStatus.PENDING:
            await self._move(RoutingEvent.OFFER, Step.OFFER)
        if self._status is RoutingStatus.OFFERED:
            await self._offer()
        if self._status is RoutingStatus.ACCEPTED:
            await self._book_or_wait_for_completion()
        while self._status in (RoutingStatus.SYNCING, RoutingStatus.NEEDS_ATTENTION):
            await self._sync()
        if not is_terminal(self._status):
            await self._follow()

    async def _record_temporal_cancel(self) -> None:
        """Canceled in Temporal itself: the store, the search attribute and the timeline say so
        too, a sequential job hears that its offer is over, and the workflow ends Canceled."""
        if not is_terminal(self._status):
            offered = self._status is RoutingStatus.OFFERED
            self._progress = self._progress.model_copy(update={"last_error": "canceled in Temporal"})
            await self._move(RoutingEvent.CANCEL, _current_step(self._progress))
            if offered:
                await self._report_offer()
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _known_provider(self) -> bool:
        """A fan-out routing started with its receiver's provider (by a job workflow of this
        version) needs neither an offer nor a provider lookup."""
        return (
            self._start.provider is not None
            and self._start.accept_timeout is None
            and workflow.patched(FEWER_CALLS)
        )

    async def _start_at_once(self) -> None:
        """Offered, accepted, and syncing when the receiver books through a provider: written
        in one call, the search attributes in one upsert."""
        assert self._start.provider is not None
        provider = self._start.provider.name
        self._progress = self._progress.model_copy(update={"provider": provider})
        self._advance(RoutingEvent.OFFER, Step.OFFER)
        self._advance(RoutingEvent.ACCEPT, Step.OFFER)
        if provider == PROVIDER:
            self._advance(RoutingEvent.SYNC_STARTED, Step.CUSTOMER)
        await self._record(sa.PROVIDER.value_set(provider or "none"))

    async def _offer(self) -> None:
        timeout = self._start.accept_timeout
        if timeout is None:  # fan-out: sent, not offered
            await self._move(RoutingEvent.ACCEPT, Step.OFFER)
            return
        try:
            await workflow.wait_condition(
                lambda: self._requests.decision is not None or self._requests.cancel, timeout=timeout
            )
            event = RoutingEvent.CANCEL if self._requests.cancel else self._requests.decision
        except TimeoutError:
            event = RoutingEvent.OFFER_EXPIRED
        assert event is not None
        await self._move(event, Step.OFFER)
        self._requests = self._requests.model_copy(update={"decision": None})
        await self._report_offer()

    async def _report_offer(self) -> None:
        """Tells the sequential job workflow that started this routing how its offer ended."""
        parent = workflow.info().parent
        if parent is None:
            return
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                OFFER_RESOLVED,
                OfferOutcome(
                    routing_id=self._start.routing_id, accepted=self._status is RoutingStatus.ACCEPTED
                ),
            )
        except FailureError as error:
            # The job workflow is gone (terminated by an operator): this routing goes on alone.
            workflow.logger.warning("could not tell the job workflow how the offer ended: %s", error)

    async def _book_or_wait_for_completion(self) -> None:
        if not self._known_provider():
            provider = await store(RoutingStore.provider_of, self._start.receiver_id)
            self._progress = self._progress.model_copy(update={"provider": provider})
            workflow.upsert_search_attributes([sa.PROVIDER.value_set(provider or "none")])
        if self._progress.provider == PROVIDER:
            await self._move(RoutingEvent.SYNC_STARTED, Step.CUSTOMER)
            return
        # Without a provider connection the receiver reports the outcome through the API.
        await workflow.wait_condition(lambda: self._requests.completion is not None or self._requests.cancel)
        if self._requests.cancel:
            await self._move(RoutingEvent.CANCEL, Step.FOLLOW)
            return
        assert self._requests.completion is not None
        total = self._requests.completion.invoice_total
        self._progress = self._progress.model_copy(update={"invoice_total": total})
        await self._ledger(total)
        await self._move(RoutingEvent.COMPLETE, Step.LEDGER)

    async def _sync(self) -> None:
        if self._status is RoutingStatus.NEEDS_ATTENTION:
            await workflow.wait_condition(lambda: self._requests.retry or self._requests.cancel)
            if self._requests.cancel:
                await self._move(RoutingEvent.CANCEL, Step.OFFER)
                return
            await self._move(RoutingEvent.RETRY, self._progress.failed_step or Step.CUSTOMER)
            self._requests = self._requests.model_copy(update={"retry": False})
        if workflow.patched(FEWER_CALLS):
            await self._sync_in_one_call()
        else:
            await self._sync_step_by_step()
        if self._status is not RoutingStatus.SYNCING:  # needs_attention
            return
        if self._requests.cancel:
            await self._move(RoutingEvent.CANCEL, Step.BOOKING)
            return
        await self._move(RoutingEvent.SYNC_SUCCEEDED, Step.BOOKING)

    async def _sync_step_by_step(self) -> None:
        """The release before fewer-calls-per-routing: an activity per step."""
        step = Step.CUSTOMER
        try:
            if self._progress.customer_id is None:
                customer = await self._provider(ServiceTitanSync.sync_customer, self._request)
                self._progress = self._progress.model_copy(
                    update={"customer_id": customer.customer_id, "location_id": customer.location_id}
                )
            step = Step.BOOKING
            booking = await self._provider(ServiceTitanSync.book, self._request)
        except ActivityError as error:
            await self._sync_failed(step, error)
            return
        self._booked(booking)

    async def _sync_in_one_call(self) -> None:
        """The customer (unless known) and the booking, in one activity."""

        def sync() -> BookingSync:
            customer = None
            if self._progress.customer_id is not None and self._progress.location_id is not None:
                customer = CustomerSynced(
                    customer_id=self._progress.customer_id,
                    location_id=self._progress.location_id,
                    created=False,
                )
            return BookingSync(request=self._request(), customer=customer)

        try:
            done = await self._provider(ServiceTitanSync.sync, sync)
        except ActivityError as error:
            await self._sync_failed(
                Step.CUSTOMER if self._progress.customer_id is None else Step.BOOKING, error
            )
            return
        self._booked(done.booking, done.customer)

    async def _sync_failed(self, step: Step, error: ActivityError) -> None:
        self._progress = self._progress.model_copy(update={"failed_step": step, "last_error": _reason(error)})
        await self._move(RoutingEvent.SYNC_FAILED, step)

    def _booked(self, booking: BookingSynced, customer: CustomerSynced | None = None) -> None:
        ids = {"customer_id": customer.customer_id, "location_id": customer.location_id} if customer else {}
        self._progress = self._progress.model_copy(
            update={
                **ids,
                "booking_id": booking.booking_id,
                "provider_job_id": booking.provider_job_id,
                "failed_step": None,
                "last_error": None,
            }
        )

    async def _follow(self) -> None:
        """Ask the provider how the booked job is going until it ends; a fresh run now and then."""
        settings = self._start.settings
        for _ in range(settings.polls_per_run):
            try:
                await workflow.wait_condition(lambda: self._requests.cancel, timeout=settings.follow_interval)
                await self._move(RoutingEvent.CANCEL, Step.FOLLOW)
                return
            except TimeoutError:
                pass
            try:
                news = await self._provider(ServiceTitanSync.follow, self._request)
            except ActivityError as error:
                # The booking stands; a provider outage only delays the news. Ask again later.
                workflow.logger.warning("following the provider failed: %s", _reason(error))
                continue
            self._progress = self._progress.model_copy(
                update={"provider_job_id": news.provider_job_id, "provider_status": news.provider_status}
            )
            if news.status is None or news.status is self._status:
                continue
            if news.status is RoutingStatus.COMPLETED:
                total = news.invoice_total or Decimal(0)
                self._progress = self._progress.model_copy(update={"invoice_total": total})
                await self._ledger(total)
            await self._move(provider_event(news.status), Step.FOLLOW)
            if is_terminal(self._status):
                return
            if workflow.info().is_continue_as_new_suggested():
                break
        if workflow.patched(CANCEL_BEFORE_CONTINUE_AS_NEW):
            # A cancel answered during the last poll is applied here; one arriving while the
            # handlers finish ends the wait too. Nothing runs between this wait and the
            # continue-as-new, so no request can slip in unseen.
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._requests.cancel)
            if self._requests.cancel:
                await self._move(RoutingEvent.CANCEL, Step.FOLLOW)
                return
        else:
            await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            self._start.model_copy(update={"progress": self._progress, "requests": self._requests})
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _request(self) -> SyncRequest:
        return SyncRequest(
            routing_id=self._start.routing_id,
            job_id=self._start.job_id,
            receiver_id=self._start.receiver_id,
            booking_id=self._progress.booking_id,
            provider_job_id=self._progress.provider_job_id,
        )

    async def _provider(
        self, method: Callable[[ServiceTitanSync, A], Awaitable[R]], arg: Callable[[], A]
    ) -> R:
        """`method` with `arg()`, built again for each call: a deferral's wait may have taught
        the routing something (the customer, found before the booking step was deferred)."""
        settings = self._start.settings
        deferrals_end = workflow.patched(DEFERRALS_SPEND_NO_ATTEMPT)
        # The task queue dispatches each receiver's backlog fairly against the others'.
        fairness = Priority(fairness_key=str(self._start.receiver_id)) if deferrals_end else Priority.default
        attempts = settings.max_attempts
        while True:
            try:
                return await workflow.execute_activity_method(
                    method,
                    arg(),
                    start_to_close_timeout=PROVIDER_TIMEOUT,
                    heartbeat_timeout=PROVIDER_HEARTBEAT,
                    retry_policy=_provider_retry(settings, attempts, deferrals_end),
                    priority=fairness,
                )
            except ActivityError as error:
                workflow_cancel.raise_if_canceled(error)
                self._learn(error)
                deferral = error.cause
                if not (
                    deferrals_end and isinstance(deferral, ApplicationError) and deferral.type == RATE_LIMITED
                ):
                    raise
                # The attempts before the deferral (its first detail) failed; the deferral did not.
                attempts -= int(deferral.details[0]) - 1
                await workflow.sleep(deferral.next_retry_delay or settings.retry_initial)

    def _learn(self, error: ActivityError) -> None:
        """A sync that failed after the customer step carries the customer (its last detail)."""
        cause = error.cause
        found = cause.details[-1] if isinstance(cause, ApplicationError) and cause.details else None
        if isinstance(found, dict) and {"customer_id", "location_id"} <= found.keys():
            customer = CustomerSynced.model_validate(found)
            self._progress = self._progress.model_copy(
                update={"customer_id": customer.customer_id, "location_id": customer.location_id}
            )

    async def _ledger(self, total: Decimal) -> None:
        await store(
            RoutingStore.write_ledger, LedgerRequest(routing_id=self._start.routing_id, invoice_total=total)
        )

    async def _move(self, event: RoutingEvent, step: Step) -> None:
        """Apply `event`, then make the new status visible: search attribute, store, timeline."""
        self._advance(event, step)
        await self._record()

    def _after(self, event: RoutingEvent, step: Step) -> StatusChange:
        """The change `event` makes, not applied yet."""
        status = transition(self._status, event)
        seq = self._progress.seq + 1
        progress = self._progress.model_copy(update={"status": status, "seq": seq})
        return StatusChange(routing_id=self._start.routing_id, seq=seq, step=step, progress=progress)

    def _advance(self, event: RoutingEvent, step: Step) -> None:
        """Apply `event`; the change is written by the next _record."""
        change = self._after(event, step)
        self._progress = change.progress
        self._unrecorded.append(change)

    async def _record(self, *attributes: SearchAttributeUpdate[str]) -> None:
        """The changes made since the last call become visible: one search-attribute upsert
        (the status, and `attributes`), then the store and the timeline, in one call."""
        workflow.upsert_search_attributes([sa.ROUTING_STATUS.value_set(self._status.value), *attributes])
        changes, self._unrecorded = self._unrecorded, []
        if len(changes) == 1:
            await store(RoutingStore.record, changes[0])
        else:
            await store(RoutingStore.record_changes, StatusChanges(changes=changes))


def _current_step(progress: Progress) -> Step:
    """Where a routing is, for the timeline line of a cancel that came from outside."""
    match progress.status:
        case RoutingStatus.PENDING | RoutingStatus.OFFERED | RoutingStatus.ACCEPTED:
            return Step.OFFER
        case RoutingStatus.SYNCING | RoutingStatus.NEEDS_ATTENTION:
            return progress.failed_step or Step.CUSTOMER
        case _:
            return Step.FOLLOW
