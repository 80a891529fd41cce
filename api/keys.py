"""API keys: 256-bit random secrets shown once, stored as SHA-256, looked up by hash."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.models import ApiKey, Role, Tenant

PREFIX = "tl_"
ADMIN_TENANT = "tempoline-admin"
BOOTSTRAP_KEY_NAME = "bootstrap admin"
T = TypeVar("T")


def generate() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    tenant_id: uuid.UUID
    role: Role


# Built once: every request authenticates, and building the statement cost more of the API's
# CPU than running it (py-spy, bench.routing's POSTs).
_BY_KEY = (
    select(ApiKey.id, ApiKey.tenant_id, ApiKey.role)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None), Tenant.deleted_at.is_(None))
    # An executor's key opens only the executor endpoints (api.routers.platform.executors).
    .where(ApiKey.role != Role.executor)
)
_BY_KEY_WITH: dict[type, Select[Any]] = {}


def _principal(row: Row[Any]) -> Principal:
    return Principal(key_id=row.id, tenant_id=row.tenant_id, role=Role(row.role))


async def authenticate(session: AsyncSession | AsyncConnection, key: str) -> Principal | None:
    row = (await session.execute(_BY_KEY, {"key_hash": digest(key)})).one_or_none()
    return _principal(row) if row else None


async def authenticate_with(
    session: AsyncSession, key: str, entity: type[T]
) -> tuple[Principal, T | None] | None:
    """The key's principal and its tenant's row in `entity` (keyed by the tenant id, None if it
    has none), in one query: one round trip on every request of a context with its own tenants."""
    statement = _BY_KEY_WITH.get(entity)
    if statement is None:
        statement = _BY_KEY.add_columns(entity).outerjoin(entity, entity.id == ApiKey.tenant_id)  # type: ignore[attr-defined]
        _BY_KEY_WITH[entity] = statement
    row = (await session.execute(statement, {"key_hash": digest(key)})).one_or_none()
    return (_principal(row), row[-1]) if row else None


async def issue(session: AsyncSession, tenant_id: uuid.UUID, name: str, role: Role) -> tuple[ApiKey, str]:
    key = generate()
    record = ApiKey(tenant_id=tenant_id, name=name, role=role, key_hash=digest(key), prefix=key[:10])
    session.add(record)
    await session.flush()
    return record, key


async def bootstrap_admin(session: AsyncSession, key: str) -> None:
    """Make TEMPOLINE_ADMIN_API_KEY valid; a previously bootstrapped, different key is revoked."""
    tenant = (await session.execute(select(Tenant).where(Tenant.name == ADMIN_TENANT))).scalar_one_or_none()
    if tenant is None:
        tenant = Tenant(name=ADMIN_TENANT)
        session.add(tenant)
        await session.flush()
    hashed = digest(key)
    await session.execute(
        update(ApiKey)
        .where(ApiKey.name == BOOTSTRAP_KEY_NAME, ApiKey.key_hash != hashed, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    existing = (await session.execute(select(ApiKey).where(ApiKey.key_hash == hashed))).scalar_one_or_none()
    if existing is None:
        session.add(
            ApiKey(
                tenant_id=tenant.id,
                name=BOOTSTRAP_KEY_NAME,
                role=Role.admin,
                key_hash=hashed,
                prefix=key[:10],
            )
        )
    elif existing.revoked_at is not None:
        existing.revoked_at = None
