"""Routing's ServiceTitan activities: book a routed job into the receiver's ServiceTitan and
read back how it is going.

Each activity loads what it needs by id (the job's homeowner, the receiver's credentials) and
decrypts it here, so neither PII nor a secret travels in a workflow payload. Every attempt
leaves a line on the routing's timeline, failures included.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import heartbeat
from activities.dependencies import Dependencies
from activities.heartbeat import heartbeating
from activities.rate_limit import RATE_LIMITED, Bucket, RateLimiter
from clients.servicetitan import (
    MAX_RATE_PER_SECOND,
    MIN_RATE_PER_SECOND,
    Address,
    BookingRef,
    Connection,
    CustomerRef,
    ServiceTitanClient,
    StoredConnection,
    email_key,
    outcome_unknown,
    phone_key,
    stored_connection,
)
from domain.routing import ServiceJobCreate, map_servicetitan_job_status
from domain.routing.contracts import (
    BookingSync,
    BookingSynced,
    CustomerSynced,
    ProviderProgress,
    Step,
    Synced,
    SyncRequest,
)
from domain.routing.models import Homeowner
from domain.routing.status import RoutingStatus
from store import provider_writes
from store import routing as tables
from store.sealed import open_model

PROVIDER = "servicetitan"
Ref = TypeVar("Ref", CustomerRef, BookingRef)
_PC = tables.ProviderConnection
_CONNECTION = (
    _PC.company_id,
    _PC.st_tenant_id,
    _PC.client_id,
    _PC.client_secret,
    _PC.booking_provider_id,
    _PC.rate_limit_per_second,
)


# How soon a create held up by another one in flight under a shared key (another routing of the
# same homeowner) looks again: that one's answer usually settles it within a second.
IN_FLIGHT_RECHECK = timedelta(seconds=2)


def _buckets(conn: Connection) -> list[Bucket]:
    """The tenant's shared budget, at the provider's cap whoever calls, and the company's own,
    at its connection's rate: a company that names another's tenant slows only itself."""
    asked = conn.rate_limit_per_second or MAX_RATE_PER_SECOND
    own = min(max(asked, MIN_RATE_PER_SECOND), MAX_RATE_PER_SECOND)
    return [
        Bucket(f"{PROVIDER}:{conn.tenant_id}", MAX_RATE_PER_SECOND),
        Bucket(f"{PROVIDER}:{conn.tenant_id}:company:{conn.company_id}", own),
    ]


def _labels(conn: Connection) -> dict[str, str]:
    return {"provider": PROVIDER, "tenant": conn.tenant_id}


class ServiceTitanSync:
    def __init__(self, deps: Dependencies) -> None:
        # How long ServiceTitan may still apply a request after it was sent: a create whose
        # answer was lost stays in doubt that long.
        self._server_timeout = timedelta(seconds=deps.settings.servicetitan_server_timeout_seconds)
        self._db = deps.database
        self._cipher = deps.cipher
        self._limiter = RateLimiter(deps.database)
        self._client = ServiceTitanClient.from_settings(
            deps.http, deps.settings, throttle=self._throttle, observe=_observe
        )

    async def _throttle(self, conn: Connection) -> None:
        await self._limiter.acquire(_buckets(conn), _labels(conn))

    async def _connection(self, receiver_id: uuid.UUID) -> Connection:
        async with self._db.statements() as db:
            row = (await db.execute(select(*_CONNECTION).where(_PC.company_id == receiver_id))).one_or_none()
        return self._opened(row)

    def _opened(self, row: StoredConnection | None) -> Connection:
        # No row, or _load's outer join found the job but no connection.
        if row is None or row.company_id is None:
            raise ApplicationError(
                "the receiving company has no ServiceTitan connection any more", non_retryable=True
            )
        return stored_connection(row, self._cipher)

    async def _load(self, request: SyncRequest) -> tuple[Connection, ServiceJobCreate]:
        """The receiver's connection and the job, in one round trip."""
        query = (
            select(tables.ServiceJob.sealed, *_CONNECTION)
            .outerjoin(_PC, _PC.company_id == request.receiver_id)
            .where(tables.ServiceJob.id == request.job_id)
        )
        async with self._db.statements() as db:
            row = (await db.execute(query)).one()
        return self._opened(row), open_model(self._cipher, request.job_id, row.sealed, ServiceJobCreate)

    @asynccontextmanager
    async def _attempt(
        self, routing_id: uuid.UUID, step: Step, *, record_success: bool = True
    ) -> AsyncIterator[None]:
        """Writes this attempt's outcome to the timeline, keyed by activity and attempt number.

        Follow-up polls record only failures: a booking followed for weeks would otherwise
        bury its timeline under "ok" lines.
        """
        info = activity.info()
        error: str | None = None
        try:
            async with heartbeating():
                yield
        except ApplicationError as exc:
            error = exc.message
            raise
        except BaseException as exc:  # cancellation (heartbeat timeout, shutdown) included
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if error or record_success:
                await self._record_attempt(routing_id, step, info, error)

    async def _record_attempt(
        self, routing_id: uuid.UUID, step: Step, info: activity.Info, error: str | None
    ) -> None:
        await self._timeline(routing_id, step, info, "failed" if error else "ok", error)

    async def _record_duplicates(self, routing_id: uuid.UUID, step: Step, what: str, ids: list[int]) -> None:
        """A timeline line (outcome "duplicate") for records ServiceTitan holds twice despite our
        keys, e.g. after a create that landed after its answer was lost and the window passed."""
        message = f"ServiceTitan holds {len(ids)} {what}: {', '.join(map(str, ids))}; using {ids[0]}"
        activity.logger.warning(message)
        await self._timeline(routing_id, step, activity.info(), "duplicate", message)

    async def _timeline(
        self, routing_id: uuid.UUID, step: Step, info: activity.Info, outcome: str, error: str | None
    ) -> None:
        """One line on the routing's timeline per attempt and outcome (a retried write adds none)."""
        suffix = "" if outcome in ("ok", "failed") else f":{outcome}"
        async with self._db.statements() as db:
            await db.execute(
                insert(tables.RoutingEvent)
                .values(
                    routing_id=routing_id,
                    # The step too: routing.servicetitan.sync takes two steps in one attempt.
                    key=f"{info.workflow_run_id}:{info.activity_id}:{info.attempt}:{step.value}{suffix}",
                    step=step.value,
                    outcome=outcome,
                    attempt=info.attempt,
                    error=error,
                )
                .on_conflict_do_nothing()
            )

    async def _create(
        self, receiver_id: uuid.UUID, keys: Sequence[str], create: Callable[[], Awaitable[Ref]]
    ) -> Ref:
        """Sends a create once its keys are claimed (store.provider_writes), else waits its turn.

        The claim is what makes a search that missed safe to act on: another routing creating
        under a shared key (the same homeowner's phone or email) holds it until its answer
        arrives, and a create whose answer was lost holds it for ServiceTitan's server timeout,
        during which ServiceTitan may still apply it. Either way this activity is deferred
        (RATE_LIMITED: the workflow waits, spending no retry attempt) and searches again when
        it comes back. No lock is held across a provider call or a rate-limit wait.
        """
        held = await provider_writes.claim(self._db.engine, receiver_id, keys, self._server_timeout)
        if held is not None:
            wait = held.remaining if held.in_doubt else min(held.remaining, IN_FLIGHT_RECHECK)
            why = "may still land at ServiceTitan" if held.in_doubt else "is in flight"
            raise ApplicationError(
                f"an earlier create under the same key {why}; searching again in "
                f"{wait.total_seconds():.1f}s before creating",
                activity.info().attempt,
                type=RATE_LIMITED,
                next_retry_delay=wait + timedelta(milliseconds=100),
            )
        try:
            ref = await create()
        except ApplicationError as exc:
            async with self._db.statements() as db:
                if outcome_unknown(exc):
                    await provider_writes.in_doubt(db, keys)
                else:
                    await provider_writes.forget(db, keys)
            raise
        async with self._db.statements() as db:
            await provider_writes.forget(db, keys)
        return ref

    @activity.defn(name="routing.servicetitan.sync")
    async def sync(self, sync: BookingSync) -> Synced:
        """sync_customer, then book, in one activity (a task and a workflow task fewer per
        routing). Once the customer is known, the next attempt resumes at the booking (heartbeat
        details), and a failure carries the customer as its last detail, so the workflow's next
        call does too. The synced status is the workflow's to write: a write from here could
        land after Temporal's own cancel was recorded (the workflow does not wait for a
        canceled activity) and undo it."""
        customer = sync.customer or _resumed()
        if customer is None:
            customer = await self.sync_customer(sync.request)
            heartbeat.progress(customer)
        try:
            booking = await self.book(sync.request)
        except Exception as exc:  # not cancellation, a BaseException
            raise with_customer(exc, customer) from exc
        return Synced(customer=customer, booking=booking)

    @activity.defn(name="routing.servicetitan.sync_customer")
    async def sync_customer(self, request: SyncRequest) -> CustomerSynced:
        """Token, then the homeowner's customer (found by phone or email) and its location."""
        async with self._attempt(request.routing_id, Step.CUSTOMER):
            conn, job = await self._load(request)
            # ServiceTitan has no idempotency key for customers: two routings of one homeowner to
            # one receiver, running at once, would both miss the other's customer and create two.
            # The create claims every contact key of the homeowner first (_create), so any two jobs
            # that share a phone or an email create one after the other, the second finding the
            # first's customer.
            ref = await self._customer(request.receiver_id, conn, job)
        if ref.duplicates:
            ids = [ref.customer_id, *ref.duplicates]
            await self._record_duplicates(
                request.routing_id, Step.CUSTOMER, "customers for this homeowner", ids
            )
        return CustomerSynced(customer_id=ref.customer_id, location_id=ref.location_id, created=ref.created)

    async def _customer(self, receiver_id: uuid.UUID, conn: Connection, job: ServiceJobCreate) -> CustomerRef:
        owner = job.homeowner
        found = await self._client.find_customers(conn, owner.phone, owner.email)
        if found:
            location_id = await self._client.location_for(conn, found[0], owner.name, _address(job))
            return CustomerRef(
                customer_id=found[0], location_id=location_id, created=False, duplicates=found[1:]
            )
        return await self._create(
            receiver_id,
            _contact_keys(conn, owner),
            lambda: self._client.create_customer(conn, owner.name, owner.phone, owner.email, _address(job)),
        )

    @activity.defn(name="routing.servicetitan.book")
    async def book(self, request: SyncRequest) -> BookingSynced:
        """The booking whose external id is the routing id: found if a past attempt made it."""
        async with self._attempt(request.routing_id, Step.BOOKING):
            conn, job = await self._load(request)
            ref = await self._booking(request, conn, job)
        if ref.duplicates:
            ids = [ref.booking_id, *ref.duplicates]
            await self._record_duplicates(request.routing_id, Step.BOOKING, "bookings for this routing", ids)
        return BookingSynced(booking_id=ref.booking_id, provider_job_id=ref.job_id, created=ref.created)

    async def _booking(self, request: SyncRequest, conn: Connection, job: ServiceJobCreate) -> BookingRef:
        external_id = str(request.routing_id)
        found = await self._client.find_bookings(conn, external_id)
        if found:
            return found[0].model_copy(update={"duplicates": [b.booking_id for b in found[1:]]})
        keys = [f"{PROVIDER}:{conn.tenant_id}:booking:{conn.booking_provider_id}:{external_id}"]
        owner = job.homeowner
        return await self._create(
            request.receiver_id,
            keys,
            lambda: self._client.create_booking(
                conn,
                external_id=external_id,
                summary=_summary(job),
                name=owner.name,
                phone=owner.phone,
                email=owner.email,
                address=_address(job),
            ),
        )

    @activity.defn(name="routing.servicetitan.follow")
    async def follow(self, request: SyncRequest) -> ProviderProgress:
        """The booked job's status at the provider, with its invoice total once completed."""
        async with self._attempt(request.routing_id, Step.FOLLOW, record_success=False):
            return await self._follow(request)

    async def _follow(self, request: SyncRequest) -> ProviderProgress:
        assert request.booking_id is not None
        conn = await self._connection(request.receiver_id)
        job_id = request.provider_job_id
        if job_id is None:
            job_id = (await self._client.get_booking(conn, request.booking_id)).job_id
        if job_id is None:  # not converted into a job yet
            return ProviderProgress(provider_job_id=None, provider_status=None, status=None)
        job = await self._client.get_job(conn, job_id)
        status = map_servicetitan_job_status(job.job_status or "")
        if status is None and job.job_status:
            activity.logger.warning("unknown ServiceTitan job status", extra={"status": job.job_status})
        total = None
        if status is RoutingStatus.COMPLETED:
            total = await self._client.get_invoice_total(conn, job_id)
        return ProviderProgress(
            provider_job_id=job_id, provider_status=job.job_status, status=status, invoice_total=total
        )


def _resumed() -> CustomerSynced | None:
    """The customer an earlier attempt of this activity found (its heartbeat details)."""
    details = activity.info().heartbeat_details
    return CustomerSynced.model_validate(details[0]) if details else None


def with_customer(exc: Exception, customer: CustomerSynced) -> ApplicationError:
    """`exc` as it would have failed the activity, with the customer as its last detail."""
    if isinstance(exc, ApplicationError):
        return ApplicationError(
            exc.message,
            *exc.details,
            customer,
            type=exc.type,
            non_retryable=exc.non_retryable,
            next_retry_delay=exc.next_retry_delay,
            category=exc.category,
        )
    return ApplicationError(f"{type(exc).__name__}: {exc}", customer, type=type(exc).__name__)


def _contact_keys(conn: Connection, owner: Homeowner) -> list[str]:
    """One key per contact of the homeowner at this ServiceTitan tenant, in a fixed order."""
    keys = []
    if owner.phone:
        keys.append(f"{PROVIDER}:{conn.tenant_id}:customer:phone:{phone_key(owner.phone)}")
    if owner.email:
        keys.append(f"{PROVIDER}:{conn.tenant_id}:customer:email:{email_key(owner.email)}")
    return sorted(keys)


def _observe(conn: Connection, status_class: str) -> None:
    if activity.in_activity():
        activity.metric_meter().create_counter(
            "tempoline_provider_calls_total", "Provider API calls, by outcome (HTTP status class)"
        ).add(1, {**_labels(conn), "status_class": status_class})


def _address(job: ServiceJobCreate) -> Address:
    a = job.address
    return Address(street=a.street, city=a.city, state=a.state, zip=a.zip, country="USA")


def _summary(job: ServiceJobCreate) -> str:
    window = job.preferred_window
    parts = [f"[{job.trade.value}] {job.summary}"]
    if window is not None:
        parts.append(f"Preferred window: {window.start.isoformat()} to {window.end.isoformat()}")
    if job.notes:
        parts.append(job.notes)
    return "\n".join(parts)
