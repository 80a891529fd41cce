"""Routings (one job sent to one receiver): lists, the timeline, the actions people take on
them, and the referral-fee ledger.

A referrer sees the routings of its jobs, a receiver the routings sent to it; to anyone else a
routing does not exist (404). Actions are Temporal updates on `routing:{id}`: the workflow
decides whether they are allowed, so the API cannot race it.
"""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, or_, select
from temporalio.service import RPCError, RPCStatusCode

from api import paging
from api.deps import Session, Temporal
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.routing.access import Me
from api.temporal_calls import execute_update, reaching_temporal, update_responses
from domain.routing import RoutingStatus, ServiceJobCreate
from domain.routing.contracts import Completion, Updates, routing_workflow_id
from store import routing as tables
from store.routing import Company
from store.sealed import open_model

router = APIRouter(prefix="/api/routing", tags=["routing: routings"], responses=ERROR_RESPONSES)


class Side(StrEnum):
    SENT = "sent"  # routings of my jobs
    RECEIVED = "received"  # routings sent to me


class RoutingOut(BaseModel):
    id: uuid.UUID
    job_id: uuid.UUID
    referrer_id: uuid.UUID
    receiver_id: uuid.UUID
    position: int
    status: RoutingStatus
    provider: str | None
    failed_step: str | None
    last_error: str | None
    st_customer_id: int | None
    st_booking_id: int | None
    st_job_id: int | None
    provider_status: str | None
    invoice_total: Decimal | None
    created_at: datetime
    updated_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    step: str
    outcome: str
    status: str | None
    attempt: int | None
    provider_status: str | None
    error: str | None


class RoutingDetail(RoutingOut):
    job: ServiceJobCreate
    timeline: list[TimelineEntry]


class ActionResult(BaseModel):
    id: uuid.UUID
    status: RoutingStatus


class LedgerOut(BaseModel):
    id: uuid.UUID
    routing_id: uuid.UUID
    referrer_id: uuid.UUID
    receiver_id: uuid.UUID
    invoice_total: Decimal
    fee_kind: str
    fee_amount: Decimal
    fee: Decimal
    created_at: datetime


def _party(me: Company, model: Any, side: Side | None = None) -> ColumnElement[bool]:
    if side is Side.SENT:
        return model.referrer_id == me.id
    if side is Side.RECEIVED:
        return model.receiver_id == me.id
    return or_(model.referrer_id == me.id, model.receiver_id == me.id)


async def _visible(session: Session, me: Company, routing_id: uuid.UUID) -> tables.Routing:
    routing = await session.get(tables.Routing, routing_id)
    if routing is None or me.id not in (routing.referrer_id, routing.receiver_id):
        raise ProblemError(404, "Routing not found", f"No routing {routing_id}.")
    return routing


@router.get("/routings", response_model=paging.Page[RoutingOut])
async def list_routings(
    me: Me,
    session: Session,
    status: Annotated[RoutingStatus | None, Query(description="Only routings in this status")] = None,
    side: Annotated[
        Side | None, Query(description="sent (my jobs) or received (sent to me); both by default")
    ] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[RoutingOut]:
    query = select(tables.Routing).where(_party(me, tables.Routing, side))
    if status is not None:
        query = query.where(tables.Routing.status == status.value)
    rows = list((await session.execute(paging.apply(query, tables.Routing, cursor, limit))).scalars())
    return paging.page(rows, limit, lambda r: RoutingOut.model_validate(r, from_attributes=True))


@router.get("/routings/{routing_id}", response_model=RoutingDetail)
async def get_routing(routing_id: uuid.UUID, me: Me, session: Session, request: Request) -> RoutingDetail:
    routing = await _visible(session, me, routing_id)
    job = await session.get_one(tables.ServiceJob, routing.job_id)
    events = (
        await session.execute(
            select(tables.RoutingEvent)
            .where(tables.RoutingEvent.routing_id == routing_id)
            .order_by(tables.RoutingEvent.at, tables.RoutingEvent.id)
        )
    ).scalars()
    return RoutingDetail(
        **RoutingOut.model_validate(routing, from_attributes=True).model_dump(),
        job=open_model(request.app.state.cipher, job.id, job.sealed, ServiceJobCreate),
        timeline=[TimelineEntry.model_validate(e, from_attributes=True) for e in events],
    )


async def _act(client: Temporal, routing: tables.Routing, update: Updates, arg: Any = None) -> ActionResult:
    handle = client.get_workflow_handle(routing_workflow_id(routing.id))
    args = [] if arg is None else [arg]
    what = f"{update.value} this routing"
    with reaching_temporal("Nothing was changed; try again."):
        try:
            status = await execute_update(handle, update.value, args, RoutingStatus, what)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            detail = (
                f"it is '{routing.status}' and no longer running"
                if routing.status != RoutingStatus.PENDING
                else "it has not started yet; try again in a moment"
            )
            raise ProblemError(
                409, f"Cannot {what}", detail, retryable=routing.status == RoutingStatus.PENDING
            ) from exc
    return ActionResult(id=routing.id, status=status)


# An action on a routing is an update to its workflow.
ACTION_RESPONSES = update_responses("routing")


def _receiver_only(me: Company, routing: tables.Routing, action: str) -> None:
    if routing.receiver_id != me.id:
        raise ProblemError(403, "Receiver only", f"Only the receiving company can {action} a routing.")


@router.post("/routings/{routing_id}/accept", response_model=ActionResult, responses=ACTION_RESPONSES)
async def accept(routing_id: uuid.UUID, me: Me, session: Session, client: Temporal) -> ActionResult:
    routing = await _visible(session, me, routing_id)
    _receiver_only(me, routing, "accept")
    return await _act(client, routing, Updates.ACCEPT)


@router.post("/routings/{routing_id}/decline", response_model=ActionResult, responses=ACTION_RESPONSES)
async def decline(routing_id: uuid.UUID, me: Me, session: Session, client: Temporal) -> ActionResult:
    routing = await _visible(session, me, routing_id)
    _receiver_only(me, routing, "decline")
    return await _act(client, routing, Updates.DECLINE)


@router.post("/routings/{routing_id}/complete", response_model=ActionResult, responses=ACTION_RESPONSES)
async def complete(
    routing_id: uuid.UUID, body: Completion, me: Me, session: Session, client: Temporal
) -> ActionResult:
    """For receivers without a provider connection: the job is done, with what was invoiced."""
    routing = await _visible(session, me, routing_id)
    _receiver_only(me, routing, "complete")
    return await _act(client, routing, Updates.COMPLETE, body)


@router.post("/routings/{routing_id}/retry", response_model=ActionResult, responses=ACTION_RESPONSES)
async def retry(routing_id: uuid.UUID, me: Me, session: Session, client: Temporal) -> ActionResult:
    """Resume a needs_attention routing at the step that failed (after fixing its cause)."""
    return await _act(client, await _visible(session, me, routing_id), Updates.RETRY)


@router.post("/routings/{routing_id}/cancel", response_model=ActionResult, responses=ACTION_RESPONSES)
async def cancel(routing_id: uuid.UUID, me: Me, session: Session, client: Temporal) -> ActionResult:
    return await _act(client, await _visible(session, me, routing_id), Updates.CANCEL)


@router.get("/ledger", response_model=paging.Page[LedgerOut])
async def ledger(
    me: Me,
    session: Session,
    side: Annotated[Side | None, Query(description="sent: fees owed to me; received: fees I owe")] = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[LedgerOut]:
    query = select(tables.LedgerEntry).where(_party(me, tables.LedgerEntry, side))
    rows = list((await session.execute(paging.apply(query, tables.LedgerEntry, cursor, limit))).scalars())
    return paging.page(rows, limit, lambda r: LedgerOut.model_validate(r, from_attributes=True))
