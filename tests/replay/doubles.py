"""Activity doubles registered under the real activities' names, so the routing workflows run
on a time-skipping server without PostgreSQL or a provider; scripted per scenario."""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.rate_limit import RATE_LIMITED
from activities.routing_provider import with_customer
from domain.routing import (
    Candidate,
    FeeKind,
    FeeTerms,
    Partnership,
    RoutingProfile,
    RoutingStatus,
)
from domain.routing.contracts import (
    BookingSync,
    BookingSynced,
    CreatedRouting,
    CustomerSynced,
    LedgerRequest,
    NewRoutings,
    ProviderProgress,
    ReceiverProvider,
    ServiceJobStart,
    StatusChange,
    StatusChanges,
    Synced,
    SyncRequest,
    routing_id_for,
)

PROFILE = RoutingProfile.model_validate(
    {
        "trades": ["plumbing"],
        "service_area": {"kind": "zip_codes", "zip_codes": ["94107"]},
        "business_hours": {"timezone": "America/Los_Angeles", "weekly": {}},
        "daily_capacity": 100,
    }
)


@dataclass
class Script:
    receivers: list[uuid.UUID]
    # Booking attempts that fail for good before one succeeds (each sends the routing to needs_attention).
    booking_failures: int = 0
    # What successive follow polls report.
    follow: list[RoutingStatus] = field(default_factory=list)
    invoice_total: Decimal = Decimal("250.00")
    # None: the receiver has no provider connection and reports completion through the API.
    provider: str | None = "servicetitan"
    # Booking calls our rate limiter defers (each told to come back in 0.1 s) before one goes out.
    deferrals: int = 0
    # The store refuses every write until this time.monotonic() instant (a database outage).
    store_down_until: float = 0.0
    # Activities ("record", "book", "follow") that, once started (`holding`), wait for `release`.
    hold: frozenset[str] = frozenset()
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    changes: list[StatusChange] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    polls: int = 0

    async def until(self, condition: Callable[[list[StatusChange]], bool]) -> None:
        """Waits until the recorded status changes satisfy `condition`."""
        async with asyncio.timeout(30):
            while not condition(self.changes):
                self.changed.clear()
                await self.changed.wait()

    async def _held(self, name: str) -> None:
        if name in self.hold:
            self.holding.set()
            await self.release.wait()

    def activities(self) -> list[object]:
        @activity.defn(name="routing.save_job")
        async def save_job(start: ServiceJobStart) -> None:
            return None

        def candidates() -> list[Candidate]:
            terms = FeeTerms(kind=FeeKind.FLAT, amount=Decimal(25))
            return [
                Candidate(
                    company_id=receiver,
                    profile=PROFILE,
                    partnership=Partnership(active=True, fee_terms=terms),
                    routings_today=0,
                )
                for receiver in self.receivers
            ]

        @activity.defn(name="routing.load_candidates")
        async def load_candidates(referrer_id: uuid.UUID) -> list[Candidate]:
            return candidates()

        @activity.defn(name="routing.save_job_with_candidates")
        async def save_job_with_candidates(start: ServiceJobStart) -> list[Candidate]:
            return candidates()

        @activity.defn(name="routing.create_routings")
        async def create_routings(new: NewRoutings) -> list[CreatedRouting]:
            provider = ReceiverProvider(name=self.provider)
            return [
                CreatedRouting(routing_id=routing_id_for(new.job_id, r), receiver_id=r, provider=provider)
                for r in new.chosen
            ]

        @activity.defn(name="routing.provider_of")
        async def provider_of(receiver_id: uuid.UUID) -> str | None:
            return self.provider

        @activity.defn(name="routing.record")
        async def record(change: StatusChange) -> None:
            await record_changes(StatusChanges(changes=[change]))

        @activity.defn(name="routing.record_changes")
        async def record_changes(changes: StatusChanges) -> None:
            await self._held("record")
            if time.monotonic() < self.store_down_until:
                raise ConnectionError("the database is restarting")
            self.changes.extend(changes.changes)
            self.changed.set()

        @activity.defn(name="routing.write_ledger")
        async def write_ledger(request: LedgerRequest) -> Decimal:
            return Decimal(25)

        @activity.defn(name="routing.servicetitan.sync_customer")
        async def sync_customer(request: SyncRequest) -> CustomerSynced:
            return CustomerSynced(customer_id=11, location_id=12, created=True)

        @activity.defn(name="routing.servicetitan.sync")
        async def sync(sync: BookingSync) -> Synced:
            customer = sync.customer or await sync_customer(sync.request)
            try:
                booking = await book(sync.request)
            except ApplicationError as exc:
                raise with_customer(exc, customer) from exc
            return Synced(customer=customer, booking=booking)

        @activity.defn(name="routing.servicetitan.book")
        async def book(request: SyncRequest) -> BookingSynced:
            await self._held("book")
            if self.deferrals:
                self.deferrals -= 1
                raise ApplicationError(
                    "servicetitan:1 is at its rate; retrying when its turn comes",
                    activity.info().attempt,
                    type=RATE_LIMITED,
                    next_retry_delay=timedelta(milliseconds=100),
                )
            if self.booking_failures:
                self.booking_failures -= 1
                raise ApplicationError(
                    "ServiceTitan 403: forbidden", type="ServiceTitanAuth", non_retryable=True
                )
            return BookingSynced(booking_id=21, provider_job_id=None, created=True)

        @activity.defn(name="routing.servicetitan.follow")
        async def follow(request: SyncRequest) -> ProviderProgress:
            await self._held("follow")
            status = self.follow[min(self.polls, len(self.follow) - 1)]
            self.polls += 1
            total = self.invoice_total if status is RoutingStatus.COMPLETED else None
            return ProviderProgress(
                provider_job_id=31, provider_status=status.value, status=status, invoice_total=total
            )

        return [
            save_job,
            load_candidates,
            save_job_with_candidates,
            create_routings,
            provider_of,
            record,
            record_changes,
            write_ledger,
            sync,
            sync_customer,
            book,
            follow,
        ]
