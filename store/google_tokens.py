"""A user's Google tokens at rest (sealed to the user), read and written by the API's calendar
list and by the sync activities alike."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.crypto import Cipher
from domain.scheduling.oauth import GoogleTokens
from store.scheduling import Calendar, GoogleConnection
from store.sealed import open_model, seal_model


class Unusable(Exception):
    """The user's connection cannot be used: `status` says why (not_connected, disconnected,
    reauthorization_required)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def tokens_of(session: AsyncSession, cipher: Cipher, user_id: uuid.UUID) -> GoogleTokens:
    connection = await session.get(GoogleConnection, user_id)
    if connection is None or connection.sealed_tokens is None:
        raise Unusable("not_connected")
    if connection.status != "connected":
        raise Unusable(connection.status)
    return open_model(cipher, user_id, connection.sealed_tokens, GoogleTokens)


async def store_refreshed(
    session: AsyncSession, cipher: Cipher, user_id: uuid.UUID, fresh: GoogleTokens | None
) -> None:
    """Keeps the access token google-auth refreshed meanwhile, if it did (`fresh`)."""
    if fresh is None:
        return
    await session.execute(
        update(GoogleConnection)
        .where(GoogleConnection.user_id == user_id)
        .values(sealed_tokens=seal_model(cipher, user_id, fresh), updated_at=datetime.now(UTC))
    )


async def require_reauthorization(session: AsyncSession, user_id: uuid.UUID, reason: str) -> None:
    """Google refused the refresh token: the user must connect again, and their synced
    calendars say so until they do."""
    now = datetime.now(UTC)
    await session.execute(
        update(GoogleConnection)
        .where(GoogleConnection.user_id == user_id)
        .values(status="reauthorization_required", last_error=reason[:500], updated_at=now)
    )
    await session.execute(
        update(Calendar)
        .where(Calendar.user_id == user_id, Calendar.selected)
        .values(sync_status="reauthorization_required", last_error=reason[:500], last_error_at=now)
    )
