"""Bootstrap tokens: an admin issues one (with a time to live) per executor to register; it is
shown once, stored hashed, and consumed by the registration it allows."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update

from api import paging
from api.deps import Admin, Session
from api.keys import digest
from api.problems import ERROR_RESPONSES, ProblemError
from store.platform import BootstrapToken

router = APIRouter(prefix="/api/platform/tokens", tags=["platform: tokens"], responses=ERROR_RESPONSES)
PREFIX = "tlb_"


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] = "executor"
    ttl_seconds: int = Field(3600, ge=60, le=30 * 24 * 3600, description="How long it may be used")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None
    worker_id: uuid.UUID | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once: pass it to `tempoline executor --bootstrap-token`")


@router.post("", status_code=201, response_model=TokenCreated)
async def create_token(body: TokenCreate, who: Admin, session: Session) -> TokenCreated:
    token = PREFIX + secrets.token_urlsafe(32)
    row = BootstrapToken(
        tenant_id=who.tenant_id,
        name=body.name,
        token_hash=digest(token),
        prefix=token[:10],
        expires_at=datetime.now(UTC) + timedelta(seconds=body.ttl_seconds),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return TokenCreated.model_validate({**TokenOut.model_validate(row).model_dump(), "token": token})


@router.get("", response_model=paging.Page[TokenOut])
async def list_tokens(
    who: Admin, session: Session, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[TokenOut]:
    query = paging.apply(
        select(BootstrapToken).where(BootstrapToken.tenant_id == who.tenant_id), BootstrapToken, cursor, limit
    )
    return paging.page(list((await session.execute(query)).scalars()), limit, TokenOut.model_validate)


@router.post("/{token_id}/revoke", response_model=TokenOut)
async def revoke_token(token_id: uuid.UUID, who: Admin, session: Session) -> TokenOut:
    row = await session.get(BootstrapToken, token_id)
    if row is None or row.tenant_id != who.tenant_id:
        raise ProblemError(404, "Token not found", f"No bootstrap token {token_id}.")
    await session.execute(
        update(BootstrapToken)
        .where(BootstrapToken.id == token_id, BootstrapToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await session.refresh(row)
    return TokenOut.model_validate(row)
