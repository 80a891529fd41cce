"""Tenants and API keys, for platform administrators."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from api import keys, paging
from api.deps import Admin, Session
from api.problems import ERROR_RESPONSES, ProblemError, responses
from store.models import ApiKey, Role, Tenant

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES)


def _trimmed(name: str) -> str:
    if not name.strip():
        raise ValueError("must not be blank")
    return name.strip()


# The length limit applies to the name as sent (as the OpenAPI schema says), then it is trimmed: a
# name padded past 120 characters is refused, not silently accepted shorter.
Name = Annotated[str, StringConstraints(min_length=1, max_length=120), AfterValidator(_trimmed)]


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant_id: uuid.UUID
    name: Name
    # Executor keys are issued only at a worker's registration, bound to it.
    role: Literal[Role.admin, Role.member] = Role.member


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret; shown once, store it now")


async def _live_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None or tenant.deleted_at is not None:
        raise ProblemError(404, "Tenant not found", f"No tenant {tenant_id}.")
    return tenant


async def add_tenant(session: Session, name: str, kind: str = "tenant") -> Tenant:
    """A new tenant (`kind` names it in the 409 when the name is taken: companies are tenants)."""
    tenant = Tenant(name=name)
    session.add(tenant)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ProblemError(
            409, f"{kind.capitalize()} exists", f"A {kind} or tenant named {name!r} already exists."
        ) from exc
    return tenant


@router.post(
    "/tenants",
    status_code=201,
    response_model=TenantOut,
    responses=responses({409: "A tenant (or company) with this name exists"}),
)
async def create_tenant(body: TenantCreate, session: Session, _: Admin) -> Tenant:
    tenant = await add_tenant(session, body.name)
    await session.refresh(tenant)
    return tenant


@router.get("/tenants", response_model=paging.Page[TenantOut])
async def list_tenants(
    session: Session, _: Admin, limit: paging.Limit = 50, cursor: paging.Cursor = None
) -> paging.Page[TenantOut]:
    query = paging.apply(select(Tenant).where(Tenant.deleted_at.is_(None)), Tenant, cursor, limit)
    rows = list((await session.execute(query)).scalars())
    return paging.page(rows, limit, TenantOut.model_validate)


@router.delete(
    "/tenants/{tenant_id}", status_code=204, responses=responses({409: "The admin tenant cannot be deleted"})
)
async def delete_tenant(tenant_id: uuid.UUID, session: Session, _: Admin) -> Response:
    """Soft delete: the tenant's data stays for audit, its keys stop working at once."""
    tenant = await _live_tenant(session, tenant_id)
    if tenant.name == keys.ADMIN_TENANT:
        raise ProblemError(409, "Cannot delete the admin tenant")
    now = datetime.now(UTC)
    tenant.deleted_at = now
    await session.execute(
        update(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return Response(status_code=204)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyCreate, session: Session, _: Admin) -> ApiKeyCreated:
    await _live_tenant(session, body.tenant_id)
    record, secret = await keys.issue(session, body.tenant_id, body.name, body.role)
    await session.refresh(record)
    return ApiKeyCreated(**ApiKeyOut.model_validate(record).model_dump(), key=secret)


@router.get("/api-keys", response_model=paging.Page[ApiKeyOut])
async def list_api_keys(
    session: Session,
    _: Admin,
    tenant_id: uuid.UUID | None = None,
    limit: paging.Limit = 50,
    cursor: paging.Cursor = None,
) -> paging.Page[ApiKeyOut]:
    query = select(ApiKey)
    if tenant_id:
        query = query.where(ApiKey.tenant_id == tenant_id)
    rows = list((await session.execute(paging.apply(query, ApiKey, cursor, limit))).scalars())
    return paging.page(rows, limit, ApiKeyOut.model_validate)


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    responses=responses({409: "A key cannot revoke itself"}),
)
async def revoke_api_key(key_id: uuid.UUID, session: Session, who: Admin) -> Response:
    record = await session.get(ApiKey, key_id)
    if record is None:
        raise ProblemError(404, "API key not found", f"No API key {key_id}.")
    if record.id == who.key_id:
        raise ProblemError(409, "Cannot revoke the key making this request")
    record.revoked_at = record.revoked_at or datetime.now(UTC)
    return Response(status_code=204)
