"""A receiving company's provider connection (ServiceTitan credentials) and its live test.

The client secret is write-only: stored as AES-GCM ciphertext bound to the company, never
answered, never logged. Updating a connection without a secret keeps the stored one.
"""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from temporalio.exceptions import ApplicationError

from api.deps import Session
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.routing.access import Me
from api.routers.routing.errors import invalid
from clients.servicetitan import (
    MAX_RATE_PER_SECOND,
    MIN_RATE_PER_SECOND,
    ServiceTitanClient,
    stored_connection,
)
from core.crypto import DecryptionError
from core.logging import get_logger
from core.settings import Settings
from store.routing import Company, ProviderConnection
from store.sealed import seal_text

router = APIRouter(prefix="/api/routing", tags=["routing"], responses=ERROR_RESPONSES)
log = get_logger(__name__)

MAX_SECRET_CHARS = 500


class ConnectionPut(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    provider: Literal["servicetitan"]
    tenant_id: str = Field(min_length=1, max_length=64, description="The ServiceTitan tenant id")
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr | None = Field(
        default=None, description="Required for a new connection; omit it to keep the stored one"
    )
    booking_provider_id: str = Field(min_length=1, max_length=64)
    rate_limit_per_second: float | None = Field(
        default=None,
        ge=MIN_RATE_PER_SECOND,
        le=MAX_RATE_PER_SECOND,
        allow_inf_nan=False,
        description="Requests per second to this tenant; default: ROUTING_RATE_LIMIT_PER_SECOND",
    )

    @field_validator("client_secret")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 1 <= len(value.get_secret_value()) <= MAX_SECRET_CHARS:
            raise ValueError(f"client_secret must have 1 to {MAX_SECRET_CHARS} characters")
        return value


class ConnectionOut(BaseModel):
    provider: str
    tenant_id: str
    client_id: str
    booking_provider_id: str
    rate_limit_per_second: float
    client_secret_set: bool = Field(description="Always true: the secret is stored, and never shown")
    updated_at: datetime


class ConnectionTest(BaseModel):
    ok: bool
    reason: str | None = Field(default=None, description="The provider's reason, when not ok")


def _out(row: ProviderConnection) -> ConnectionOut:
    return ConnectionOut(
        provider=row.provider,
        tenant_id=row.st_tenant_id,
        client_id=row.client_id,
        booking_provider_id=row.booking_provider_id,
        rate_limit_per_second=row.rate_limit_per_second,
        client_secret_set=bool(row.client_secret),
        updated_at=row.updated_at,
    )


async def _my_connection(session: Session, me: Company) -> ProviderConnection:
    row = await session.get(ProviderConnection, me.id)
    if row is None:
        raise ProblemError(404, "No provider connection", "Set one with PUT /api/routing/connection.")
    return row


@router.put("/connection", response_model=ConnectionOut)
async def put_connection(body: ConnectionPut, me: Me, session: Session, request: Request) -> ConnectionOut:
    settings: Settings = request.app.state.settings
    row = await session.get(ProviderConnection, me.id)
    if row is None:
        if body.client_secret is None:
            raise invalid("client_secret", "client_secret is required when no connection exists yet")
        row = ProviderConnection(company_id=me.id)
        session.add(row)
    row.provider = body.provider
    row.st_tenant_id = body.tenant_id
    row.client_id = body.client_id
    row.booking_provider_id = body.booking_provider_id
    row.rate_limit_per_second = body.rate_limit_per_second or settings.routing_rate_limit_per_second
    if body.client_secret is not None:
        row.client_secret = seal_text(request.app.state.cipher, me.id, body.client_secret.get_secret_value())
    await session.flush()
    await session.refresh(row)  # updated_at is set by the database
    return _out(row)


@router.get("/connection", response_model=ConnectionOut)
async def get_connection(me: Me, session: Session) -> ConnectionOut:
    return _out(await _my_connection(session, me))


@router.delete("/connection", status_code=204)
async def delete_connection(me: Me, session: Session) -> Response:
    await session.delete(await _my_connection(session, me))
    return Response(status_code=204)


def provider_client(request: Request) -> ServiceTitanClient:
    """A ServiceTitan client on the API's shared HTTP pool, for probes made from the API."""
    return ServiceTitanClient.from_settings(request.app.state.http, request.app.state.settings)


async def probe(request: Request, row: ProviderConnection) -> ConnectionTest:
    """Asks the provider for a token with the row's stored credentials; `ok` says whether it gave one."""
    try:
        connection = stored_connection(row, request.app.state.cipher)
    except DecryptionError:
        # e.g. the encryption key it was sealed with has been rotated out of the configuration.
        return ConnectionTest(ok=False, reason="the stored client secret cannot be decrypted; set it again")
    try:
        await provider_client(request).test_connection(connection)
    except ApplicationError as exc:
        # The message is built from the provider's response only: no secret, no token.
        log.info("provider connection test failed", company_id=str(row.company_id), reason=exc.message)
        return ConnectionTest(ok=False, reason=exc.message)
    return ConnectionTest(ok=True)


@router.post("/connection/test", response_model=ConnectionTest, response_model_exclude_none=True)
async def test_connection(me: Me, session: Session, request: Request) -> ConnectionTest:
    """Asks the provider for a token with the stored credentials: 200 either way, `ok` says which."""
    return await probe(request, await _my_connection(session, me))
