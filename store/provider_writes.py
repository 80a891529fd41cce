"""Creates sent to a provider under our own keys (store.routing.ProviderWrite).

A row claims its keys for one create: written, all keys or none, before the request leaves, and
deleted once the provider's answer says what happened. While a row is younger than the provider's
own server timeout, nobody else creates under its keys: its create is in flight (another routing
of the same homeowner, say), or its answer was lost (`in_doubt`) and the provider may still apply
it. A sender that crashed leaves its row in flight until the timeout passes.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.routing import ProviderWrite

_CLAIM = text(
    """
    INSERT INTO provider_writes AS w (key, company_id, sent_at, in_doubt)
    SELECT key, :company_id, clock_timestamp(), false FROM unnest(CAST(:keys AS text[])) AS key
    ON CONFLICT (key) DO UPDATE
        SET company_id = excluded.company_id, sent_at = excluded.sent_at, in_doubt = false
        WHERE w.sent_at + make_interval(secs => :window) <= clock_timestamp()
    RETURNING key
    """
)
_HELD = text(
    """
    SELECT max(sent_at) + make_interval(secs => :window) - clock_timestamp(), bool_or(in_doubt)
    FROM provider_writes
    WHERE key = ANY(CAST(:keys AS text[])) AND sent_at + make_interval(secs => :window) > clock_timestamp()
    """
)


@dataclass(frozen=True)
class Held:
    """Keys another create holds: for `remaining` at most, `in_doubt` if its answer was lost."""

    remaining: timedelta
    in_doubt: bool


async def claim(
    engine: AsyncEngine, company_id: uuid.UUID, keys: Sequence[str], window: timedelta
) -> Held | None:
    """Claims `keys` for a create about to be sent (None), or says who holds them. One transaction:
    two claims of a shared key meet on its unique index, and the second sees the first."""
    params = {"company_id": company_id, "keys": list(keys), "window": window.total_seconds()}
    async with engine.connect() as db:
        async with db.begin() as transaction:
            claimed = (await db.execute(_CLAIM, params)).scalars().all()
            if len(claimed) == len(keys):
                return None
            await transaction.rollback()
        remaining, in_doubt = (await db.execute(_HELD, params)).one()
    # Held a moment ago and released since: try again at once.
    return Held(remaining=remaining or timedelta(0), in_doubt=bool(in_doubt))


async def in_doubt(db: AsyncConnection, keys: Sequence[str]) -> None:
    """The create's answer was lost: it may still be applied until the window ends."""
    await db.execute(update(ProviderWrite).where(ProviderWrite.key.in_(keys)).values(in_doubt=True))


async def forget(db: AsyncConnection, keys: Sequence[str]) -> None:
    """The create's outcome is known (its answer arrived): the keys are free."""
    await db.execute(delete(ProviderWrite).where(ProviderWrite.key.in_(keys)))
