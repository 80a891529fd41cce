"""The people whose calendars are synced: a tenant's users (email and name sealed at rest)."""

import hashlib
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api import paging
from api.deps import Caller, Session
from api.problems import ERROR_RESPONSES, ProblemError, responses
from core.crypto import Cipher
from domain.time_zones import TimeZone
from store.scheduling import GoogleConnection, SchedulingUser
from store.sealed import open_model, seal_model

router = APIRouter(prefix="/api/scheduling/users", tags=["scheduling: users"], responses=ERROR_RESPONSES)


class Person(BaseModel):
    """What is sealed: who the user is."""

    email: EmailStr
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UserCreate(Person):
    model_config = ConfigDict(extra="forbid")

    time_zone: TimeZone = "UTC"


class UserOut(Person):
    id: uuid.UUID
    time_zone: str
    created_at: datetime
    # connected | reauthorization_required | disconnected | not_connected
    google: str


def email_digest(tenant_id: uuid.UUID, email: str) -> str:
    """The lookup key of a sealed email: one user per email in a tenant, whatever its case."""
    return hashlib.sha256(f"{tenant_id}:{email.strip().lower()}".encode()).hexdigest()


def user_out(cipher: Cipher, row: SchedulingUser, google: str | None) -> UserOut:
    person = open_model(cipher, row.id, row.sealed, Person)
    return UserOut(
        id=row.id,
        email=person.email,
        name=person.name,
        time_zone=row.time_zone,
        created_at=row.created_at,
        google=google or "not_connected",
    )


async def owned_user(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> SchedulingUser:
    row = await session.get(SchedulingUser, user_id)
    if row is None or row.tenant_id != tenant_id:
        raise ProblemError(404, "User not found", f"No user {user_id} in this tenant.")
    return row


@router.post(
    "", status_code=201, response_model=UserOut, responses=responses({409: "A user with this email exists"})
)
async def create_user(body: UserCreate, who: Caller, session: Session, request: Request) -> UserOut:
    cipher: Cipher = request.app.state.cipher
    user_id = uuid.uuid4()
    row = SchedulingUser(
        id=user_id,
        tenant_id=who.tenant_id,
        email_digest=email_digest(who.tenant_id, body.email),
        sealed=seal_model(cipher, user_id, Person(email=body.email, name=body.name)),
        time_zone=body.time_zone,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise ProblemError(409, "User exists", "A user with this email exists in this tenant.") from None
    await session.refresh(row)
    return user_out(cipher, row, None)


@router.get("", response_model=paging.Page[UserOut])
async def list_users(
    who: Caller, session: Session, request: Request, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[UserOut]:
    query = (
        select(SchedulingUser, GoogleConnection.status)
        .outerjoin(GoogleConnection, GoogleConnection.user_id == SchedulingUser.id)
        .where(SchedulingUser.tenant_id == who.tenant_id)
    )
    rows = (await session.execute(paging.apply(query, SchedulingUser, cursor, limit))).all()
    cipher: Cipher = request.app.state.cipher
    google = {user.id: status for user, status in rows}
    return paging.page(
        [user for user, _ in rows], limit, lambda user: user_out(cipher, user, google[user.id])
    )


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, who: Caller, session: Session, request: Request) -> UserOut:
    row = await owned_user(session, who.tenant_id, user_id)
    connection = await session.get(GoogleConnection, user_id)
    return user_out(request.app.state.cipher, row, connection.status if connection else None)
