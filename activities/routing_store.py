"""Routing's store-writing activities. Each write is keyed so that a retried activity (or a
replayed workflow) changes nothing the second time."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.dependencies import Dependencies
from domain.routing import Candidate, FeeKind, FeeTerms, Partnership, RoutingProfile, referral_fee
from domain.routing.contracts import (
    CreatedRouting,
    LedgerRequest,
    NewRoutings,
    ReceiverProvider,
    ServiceJobStart,
    StatusChange,
    StatusChanges,
    routing_id_for,
)
from domain.routing.status import RoutingStatus
from store import routing as tables
from store.db import Database
from store.models import Tenant
from store.service_jobs import insert_job

# How far back "recent routings" reach when spreading work among equally good partners.
RECENT = timedelta(days=7)


# Built once, with parameters: SQLAlchemy derives a statement's cache key on every execution,
# and a statement object reused keeps the one it derived (four of these run per routed job).
_RECORD = (
    insert(tables.RoutingEvent)
    .values(
        routing_id=bindparam("p_routing_id"),
        key=bindparam("p_key"),
        step=bindparam("p_step"),
        outcome=bindparam("p_status"),
        status=bindparam("p_status"),
        provider_status=bindparam("p_provider_status"),
        error=bindparam("p_error"),
    )
    .on_conflict_do_nothing()
    .add_cte(
        update(tables.Routing)
        .where(tables.Routing.id == bindparam("p_routing_id"))
        .values(
            status=bindparam("p_status"),
            provider=bindparam("p_provider"),
            failed_step=bindparam("p_failed_step"),
            last_error=bindparam("p_error"),
            st_customer_id=bindparam("p_customer_id"),
            st_location_id=bindparam("p_location_id"),
            st_booking_id=bindparam("p_booking_id"),
            st_job_id=bindparam("p_job_id"),
            provider_status=bindparam("p_provider_status"),
            invoice_total=bindparam("p_invoice_total"),
        )
        .cte("moved")
    )
)


async def record_changes(db: Database, changes: list[StatusChange]) -> None:
    """The routing row follows the changes, and its timeline gets one line per change."""
    counter = activity.metric_meter().create_counter(
        "tempoline_routing_transitions_total", "Routing status changes, by the status entered"
    )
    for change in changes:
        counter.add(1, {"status": change.progress.status.value})
    # One statement per change, so the row and its timeline line are written together or not
    # at all; a retry rewrites nothing (the lines are keyed by sequence number).
    async with db.statements() as connection:
        await connection.execute(_RECORD, [_recorded(change) for change in changes])


class RoutingStore:
    def __init__(self, deps: Dependencies) -> None:
        self._db = deps.database
        self._cipher = deps.cipher

    @activity.defn(name="routing.save_job")
    async def save_job(self, start: ServiceJobStart) -> None:
        """The API writes the row too; whichever comes second finds it there."""
        async with self._db.statements() as connection:
            await insert_job(connection, self._cipher, start)

    @activity.defn(name="routing.load_candidates")
    async def load_candidates(self, referrer_id: uuid.UUID) -> list[Candidate]:
        """The referrer's partners (not deleted) that have a routing profile, with their load today."""
        async with self._db.statements() as connection:
            rows = (await connection.execute(_candidates(referrer_id))).all()
        return [_candidate(row) for row in rows]

    @activity.defn(name="routing.save_job_with_candidates")
    async def save_job_with_candidates(self, start: ServiceJobStart) -> list[Candidate]:
        """save_job, then load_candidates, in one call: what a job workflow does first."""
        async with self._db.statements() as connection:
            await insert_job(connection, self._cipher, start)
            rows = (await connection.execute(_candidates(start.referrer_id))).all()
        return [_candidate(row) for row in rows]

    @activity.defn(name="routing.create_routings")
    async def create_routings(self, new: NewRoutings) -> list[CreatedRouting]:
        """The routings and the job's new status, written together; each routing comes back with
        its receiver's provider, read in the same statement."""
        if new.no_candidate_reason is not None:
            status, reason = "no_candidate", new.no_candidate_reason
        else:
            status, reason = "routed", None
        routed = (
            update(tables.ServiceJob)
            .where(tables.ServiceJob.id == new.job_id)
            .values(status=status, no_candidate_reason=reason)
        )
        PC = tables.ProviderConnection
        statement = (
            select(PC.company_id, PC.provider)
            .where(PC.company_id.in_(new.chosen))
            .add_cte(routed.cte("routed"))
        )
        ids = {receiver: routing_id_for(new.job_id, receiver) for receiver in new.chosen}
        if new.chosen:
            routings = (
                insert(tables.Routing)
                .values(
                    [
                        {
                            "id": ids[receiver],
                            "job_id": new.job_id,
                            "referrer_id": new.referrer_id,
                            "receiver_id": receiver,
                            "position": new.first_position + position,
                            "status": RoutingStatus.PENDING.value,
                        }
                        for position, receiver in enumerate(new.chosen)
                    ]
                )
                .on_conflict_do_nothing()
            )
            statement = statement.add_cte(routings.cte("routings"))
        async with self._db.statements() as connection:
            providers = dict((await connection.execute(statement)).all())
        return [
            CreatedRouting(
                routing_id=ids[receiver],
                receiver_id=receiver,
                provider=ReceiverProvider(name=providers.get(receiver)),
            )
            for receiver in new.chosen
        ]

    @activity.defn(name="routing.provider_of")
    async def provider_of(self, receiver_id: uuid.UUID) -> str | None:
        PC = tables.ProviderConnection
        async with self._db.statements() as connection:
            return (
                await connection.execute(select(PC.provider).where(PC.company_id == receiver_id))
            ).scalar_one_or_none()

    @activity.defn(name="routing.record")
    async def record(self, change: StatusChange) -> None:
        """The routing row follows the workflow, and its timeline gets one line per change."""
        await record_changes(self._db, [change])

    @activity.defn(name="routing.record_changes")
    async def record_changes(self, changes: StatusChanges) -> None:
        """Several changes in a row, in one round trip, in their order."""
        await record_changes(self._db, changes.changes)

    @activity.defn(name="routing.write_ledger")
    async def write_ledger(self, request: LedgerRequest) -> Decimal:
        """The referral fee the receiver owes for a completed routing, under today's terms."""
        async with self._db.transaction() as session:
            routing = await session.get_one(tables.Routing, request.routing_id)
            partnership = (
                await session.execute(
                    select(tables.Partnership).where(
                        tables.Partnership.referrer_id == routing.referrer_id,
                        tables.Partnership.receiver_id == routing.receiver_id,
                    )
                )
            ).scalar_one()
            terms = FeeTerms(kind=FeeKind(partnership.fee_kind), amount=partnership.fee_amount)
            fee = referral_fee(terms, request.invoice_total)
            await session.execute(
                insert(tables.LedgerEntry)
                .values(
                    id=uuid.uuid5(request.routing_id, "ledger"),
                    routing_id=request.routing_id,
                    referrer_id=routing.referrer_id,
                    receiver_id=routing.receiver_id,
                    invoice_total=request.invoice_total,
                    fee_kind=terms.kind.value,
                    fee_amount=terms.amount,
                    fee=fee,
                )
                .on_conflict_do_nothing()
            )
        return fee


def _candidates(referrer_id: uuid.UUID) -> Select[Any]:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    R = tables.Routing
    P = tables.Partnership
    today_count = (
        select(func.count()).where(R.receiver_id == P.receiver_id, R.created_at >= today).scalar_subquery()
    )
    recent_count = (
        select(func.count())
        .where(R.receiver_id == P.receiver_id, R.created_at >= now - RECENT)
        .scalar_subquery()
    )
    return (
        select(
            P.receiver_id,
            P.active,
            P.fee_kind,
            P.fee_amount,
            P.preferred_by_referrer,
            tables.RoutingProfile.profile,
            today_count.label("today"),
            recent_count.label("recent"),
        )
        .join(tables.RoutingProfile, tables.RoutingProfile.company_id == P.receiver_id)
        .join(Tenant, Tenant.id == P.receiver_id)
        .where(P.referrer_id == referrer_id, Tenant.deleted_at.is_(None))
    )


def _candidate(row: Row[Any]) -> Candidate:
    return Candidate(
        company_id=row.receiver_id,
        profile=RoutingProfile.model_validate(row.profile),
        partnership=Partnership(
            active=row.active,
            fee_terms=FeeTerms(kind=FeeKind(row.fee_kind), amount=row.fee_amount),
            preferred_by_referrer=row.preferred_by_referrer,
        ),
        routings_today=row.today,
        recent_routings_count=row.recent,
    )


def _recorded(change: StatusChange) -> dict[str, object]:
    p = change.progress
    failed = p.status is RoutingStatus.NEEDS_ATTENTION
    return {
        "p_routing_id": change.routing_id,
        "p_key": f"status:{change.seq}",
        "p_step": change.step.value,
        "p_status": p.status.value,
        "p_provider": p.provider,
        "p_failed_step": p.failed_step.value if failed and p.failed_step else None,
        "p_error": p.last_error if failed else None,
        "p_customer_id": p.customer_id,
        "p_location_id": p.location_id,
        "p_booking_id": p.booking_id,
        "p_job_id": p.provider_job_id,
        "p_provider_status": p.provider_status,
        "p_invoice_total": p.invoice_total,
    }
