"""Creates sent to a provider whose outcome may be unknown (store.routing.ProviderWrite).

A create whose answer was lost (a timeout, a cut connection, a 5xx) may still be applied by the
provider until its own server timeout has passed. The row is written before the request leaves,
so its time is never later than the provider's receipt; a crash between the two only makes a
retry wait once for nothing.
"""

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from store.routing import ProviderWrite


async def in_doubt_for(db: AsyncConnection, keys: Sequence[str], window: timedelta) -> timedelta | None:
    """How much longer the latest create sent under any of `keys` may still land, if it may."""
    last = select(func.max(ProviderWrite.sent_at)).where(ProviderWrite.key.in_(keys)).scalar_subquery()
    remaining = (await db.execute(select(last + window - func.clock_timestamp()))).scalar_one()
    if remaining is None or remaining <= timedelta(0):
        return None
    return remaining


async def mark_sent(db: AsyncConnection, company_id: uuid.UUID, keys: Sequence[str]) -> None:
    rows = [{"key": key, "company_id": company_id, "sent_at": func.clock_timestamp()} for key in keys]
    statement = insert(ProviderWrite).values(rows)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[ProviderWrite.key],
            set_={"sent_at": statement.excluded.sent_at, "company_id": statement.excluded.company_id},
        )
    )


async def forget(db: AsyncConnection, keys: Sequence[str]) -> None:
    """The create's outcome is known (its answer arrived): nothing is in doubt any more."""
    await db.execute(delete(ProviderWrite).where(ProviderWrite.key.in_(keys)))
