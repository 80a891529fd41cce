"""Creating a row once per Idempotency-Key: the key names the new row's id, so a retried request
finds the row its first attempt made (and a different body under the same key is refused)."""

import hashlib
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert

from api.deps import Session


def new_id(tenant_id: uuid.UUID, idempotency_key: str | None) -> uuid.UUID:
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(tenant_id, f"idempotency-key:{idempotency_key}")


def request_hash(body: BaseModel) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


async def insert_once(session: Session, model: Any, values: dict[str, Any]) -> bool:
    """Inserts the row unless one with its id exists; whether it was inserted."""
    inserted = await session.scalar(
        insert(model).values(**values).on_conflict_do_nothing(index_elements=["id"]).returning(model.id)
    )
    return inserted is not None
