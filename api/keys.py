"""API keys: 256-bit random secrets shown once, stored as SHA-256, looked up by hash."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Select, select, update
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


def _by_key(key: str) -> Select[tuple[uuid.UUID, uuid.UUID, str]]:
    return (
        select(ApiKey.id, ApiKey.tenant_id, ApiKey.role)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == digest(key), ApiKey.revoked_at.is_(None), Tenant.deleted_at.is_(None))
        # An executor's key opens only the executor endpoints (api.routers.platform.executors).
        .where(ApiKey.role != Role.executor)
    )


def _principal(row: Row[Any]) -> Principal:
    return Principal(key_id=row.id, tenant_id=row.tenant_id, role=Role(row.role))


async def authenticate(session: AsyncSession | AsyncConnection, key: str) -> Principal | None:
    row = (await session.execute(_by_key(key))).one_or_none()
    return _principal(row) if row else None


async def authenticate_with(
    session: AsyncSession, key: str, entity: type[T]
) -> tuple[Principal, T | None] | None:
    """The key's principal and its tenant's row in `entity` (keyed by the tenant id, None if it
    has none), in one query: one round trip on every request of a context with its own tenants."""
    row = (
        await session.execute(
            _by_key(key).add_columns(entity).outerjoin(entity, entity.id == ApiKey.tenant_id)  # type: ignore[attr-defined]
        )
    ).one_or_none()
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
