"""Routing's ServiceTitan activities: book a routed job into the receiver's ServiceTitan and
read back how it is going.

Each activity loads what it needs by id (the job's homeowner, the receiver's credentials) and
decrypts it here, so neither PII nor a secret travels in a workflow payload. Every attempt
leaves a line on the routing's timeline, failures included.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.dependencies import Dependencies
from activities.heartbeat import heartbeating
from activities.rate_limit import Bucket, RateLimiter
from clients.servicetitan import (
    MAX_RATE_PER_SECOND,
    MIN_RATE_PER_SECOND,
    Address,
    Connection,
    ServiceTitanClient,
    StoredConnection,
    stored_connection,
)
from domain.routing import ServiceJobCreate, map_servicetitan_job_status
from domain.routing.contracts import BookingSynced, CustomerSynced, ProviderProgress, Step, SyncRequest
from domain.routing.status import RoutingStatus
from store import routing as tables
from store.sealed import open_model

PROVIDER = "servicetitan"
_PC = tables.ProviderConnection
_CONNECTION = (
    _PC.company_id,
    _PC.st_tenant_id,
    _PC.client_id,
    _PC.client_secret,
    _PC.booking_provider_id,
    _PC.rate_limit_per_second,
)


# API calls the customer step makes at most in the usual cases (search by phone, by email, create
# with its location echoed), reserved before its lock is taken.
CUSTOMER_CALLS = 3
# Slots reserved ahead by the running activity (its task), spent by the calls it makes under a lock.
_reserved: ContextVar[int] = ContextVar("reserved_provider_calls", default=0)
_holding_lock: ContextVar[bool] = ContextVar("holding_lock", default=False)


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
        self._db = deps.database
        self._cipher = deps.cipher
        self._limiter = RateLimiter(deps.database)
        self._client = ServiceTitanClient.from_settings(
            deps.http, deps.settings, throttle=self._throttle, observe=_observe
        )

    async def _throttle(self, conn: Connection) -> None:
        reserved = _reserved.get()
        if reserved:  # taken before a lock was: this call needs no slot of its own
            _reserved.set(reserved - 1)
            return
        # Past its reservation, a call made under a lock takes a slot due now, or is deferred.
        await self._limiter.acquire(_buckets(conn), _labels(conn), sleep=not _holding_lock.get())

    @asynccontextmanager
    async def _slots(self, conn: Connection, calls: int) -> AsyncIterator[None]:
        """Reserves `calls` slots now (waiting, or deferred), for calls made under a lock to spend."""
        await self._limiter.acquire(_buckets(conn), _labels(conn), calls=calls)
        _reserved.set(calls)
        token = _holding_lock.set(True)
        try:
            yield
        finally:
            _holding_lock.reset(token)
            _reserved.set(0)

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
        async with self._db.statements() as db:
            await db.execute(
                insert(tables.RoutingEvent)
                .values(
                    routing_id=routing_id,
                    key=f"{info.workflow_run_id}:{info.activity_id}:{info.attempt}",
                    step=step.value,
                    outcome="failed" if error else "ok",
                    attempt=info.attempt,
                    error=error,
                )
                .on_conflict_do_nothing()
            )

    @activity.defn(name="routing.servicetitan.sync_customer")
    async def sync_customer(self, request: SyncRequest) -> CustomerSynced:
        """Token, then the homeowner's customer (found by phone, else email) and its location."""
        async with self._attempt(request.routing_id, Step.CUSTOMER):
            conn, job = await self._load(request)
            owner = job.homeowner
            # ServiceTitan has no idempotency key for customers: two routings of one homeowner to
            # one receiver, running at once, would both miss the other's customer and create two.
            # This lock (held until the transaction ends) makes them look one after the other.
            contact = owner.phone or owner.email
            # Never wait for a rate-limit slot holding the lock: the slots are taken first.
            async with self._slots(conn, CUSTOMER_CALLS), self._db.engine.begin() as db:
                await db.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"{PROVIDER}:{conn.tenant_id}:customer:{contact}"},
                )
                ref = await self._client.find_or_create_customer(
                    conn, owner.name, owner.phone, owner.email, _address(job)
                )
        return CustomerSynced(customer_id=ref.customer_id, location_id=ref.location_id, created=ref.created)

    @activity.defn(name="routing.servicetitan.book")
    async def book(self, request: SyncRequest) -> BookingSynced:
        """The booking whose external id is the routing id: found if a past attempt made it."""
        async with self._attempt(request.routing_id, Step.BOOKING):
            conn, job = await self._load(request)
            owner = job.homeowner
            ref = await self._client.find_or_create_booking(
                conn,
                external_id=str(request.routing_id),
                summary=_summary(job),
                name=owner.name,
                phone=owner.phone,
                email=owner.email,
                address=_address(job),
            )
        return BookingSynced(booking_id=ref.booking_id, provider_job_id=ref.job_id, created=ref.created)

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
