"""Partnerships between companies, and each receiving company's routing profile."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from api import paging
from api.deps import Session
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.routing.access import Me
from api.routers.routing.errors import invalid
from domain.routing import FeeTerms, Partnership, RoutingProfile
from store.models import Tenant
from store.routing import Company
from store.routing import Partnership as PartnershipRow
from store.routing import RoutingProfile as ProfileRow

router = APIRouter(prefix="/api/routing", tags=["routing"], responses=ERROR_RESPONSES)


# -- partnerships ---------------------------------------------------------------------------------


class PartnershipCreate(Partnership):
    """The domain agreement plus who receives; the caller is the referrer."""

    receiver_id: uuid.UUID
    active: bool = Field(default=True, strict=True)


class PartnershipUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: StrictBool | None = None
    fee_terms: FeeTerms | None = None
    preferred_by_referrer: StrictBool | None = None


class PartnershipOut(BaseModel):
    id: uuid.UUID
    referrer_id: uuid.UUID
    receiver_id: uuid.UUID
    active: bool
    preferred_by_referrer: bool
    fee_terms: FeeTerms
    created_at: datetime


def _plain(amount: Decimal) -> Decimal:
    # NUMERIC(16,4) reads back as 12.5000; answer with the amount as it was given (12.5).
    text = f"{amount:f}"
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def _partnership_out(row: PartnershipRow) -> PartnershipOut:
    return PartnershipOut(
        id=row.id,
        referrer_id=row.referrer_id,
        receiver_id=row.receiver_id,
        active=row.active,
        preferred_by_referrer=row.preferred_by_referrer,
        fee_terms=FeeTerms(kind=row.fee_kind, amount=_plain(row.fee_amount)),
        created_at=row.created_at,
    )


def _set_fee(row: PartnershipRow, terms: FeeTerms) -> None:
    row.fee_kind, row.fee_amount = terms.kind.value, terms.amount


async def _visible_partnership(session: Session, me: Company, partnership_id: uuid.UUID) -> PartnershipRow:
    row = await session.get(PartnershipRow, partnership_id)
    if row is None or me.id not in (row.referrer_id, row.receiver_id):
        raise ProblemError(404, "Partnership not found", f"No partnership {partnership_id}.")
    return row


@router.post("/partnerships", status_code=201, response_model=PartnershipOut)
async def create_partnership(body: PartnershipCreate, me: Me, session: Session) -> PartnershipOut:
    if body.receiver_id == me.id:
        raise invalid("receiver_id", "a company cannot partner with itself")
    receiver = (
        await session.execute(
            select(Company.id)
            .join(Tenant, Tenant.id == Company.id)
            .where(Company.id == body.receiver_id, Tenant.deleted_at.is_(None))
        )
    ).scalar_one_or_none()
    if receiver is None:
        raise invalid("receiver_id", f"no company {body.receiver_id}")
    duplicate = invalid("receiver_id", "a partnership with this company already exists")
    existing = (
        await session.execute(
            select(PartnershipRow.id).where(
                PartnershipRow.referrer_id == me.id, PartnershipRow.receiver_id == body.receiver_id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise duplicate
    row = PartnershipRow(
        referrer_id=me.id,
        receiver_id=body.receiver_id,
        active=body.active,
        preferred_by_referrer=body.preferred_by_referrer,
    )
    _set_fee(row, body.fee_terms)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request created the same pair first
        raise duplicate from exc
    await session.refresh(row)
    return _partnership_out(row)


@router.get("/partnerships", response_model=paging.Page[PartnershipOut])
async def list_partnerships(
    me: Me,
    session: Session,
    role: Literal["referrer", "receiver"] | None = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[PartnershipOut]:
    """The caller's partnerships: those it refers jobs through, receives jobs through, or both."""
    sides = {
        "referrer": PartnershipRow.referrer_id == me.id,
        "receiver": PartnershipRow.receiver_id == me.id,
    }
    query = select(PartnershipRow).where(sides[role] if role else or_(*sides.values()))
    rows = list((await session.execute(paging.apply(query, PartnershipRow, cursor, limit))).scalars())
    return paging.page(rows, limit, _partnership_out)


@router.get("/partnerships/{partnership_id}", response_model=PartnershipOut)
async def get_partnership(partnership_id: uuid.UUID, me: Me, session: Session) -> PartnershipOut:
    return _partnership_out(await _visible_partnership(session, me, partnership_id))


@router.patch("/partnerships/{partnership_id}", response_model=PartnershipOut)
async def update_partnership(
    partnership_id: uuid.UUID, body: PartnershipUpdate, me: Me, session: Session
) -> PartnershipOut:
    row = await _visible_partnership(session, me, partnership_id)
    if row.referrer_id != me.id:
        raise ProblemError(
            403, "Only the referrer may change a partnership", "Ask the referring company to change it."
        )
    if body.active is not None:
        row.active = body.active
    if body.preferred_by_referrer is not None:
        row.preferred_by_referrer = body.preferred_by_referrer
    if body.fee_terms is not None:
        _set_fee(row, body.fee_terms)
    await session.flush()
    return _partnership_out(row)


# -- routing profile ------------------------------------------------------------------------------


@router.put("/profile", response_model=RoutingProfile)
async def put_profile(body: RoutingProfile, me: Me, session: Session) -> RoutingProfile:
    """The caller's settings as a receiver: trades, service area, hours, capacity."""
    stored = body.model_dump(mode="json")
    row = await session.get(ProfileRow, me.id)
    if row is None:
        session.add(ProfileRow(company_id=me.id, profile=stored))
    else:
        row.profile = stored
    return body


@router.get("/profile", response_model=RoutingProfile)
async def get_profile(me: Me, session: Session) -> RoutingProfile:
    row = await session.get(ProfileRow, me.id)
    if row is None:
        raise ProblemError(404, "No routing profile yet", "Set one with PUT /api/routing/profile.")
    return RoutingProfile.model_validate(row.profile)
