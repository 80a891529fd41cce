"""Keyset paging on (created_at, id): stable under inserts, opaque cursor for clients."""

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_

from api.problems import ProblemError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode(created_at: datetime, id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{id}".encode()).decode()


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(id)
    except ValueError as exc:
        raise ProblemError(
            422, "Invalid cursor", "`cursor` must be a value returned as next_cursor."
        ) from exc


Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]


def apply(query: Select[Any], model: Any, cursor: str | None, limit: int) -> Select[Any]:
    if cursor:
        at, id = decode(cursor)
        query = query.where(or_(model.created_at > at, and_(model.created_at == at, model.id > id)))
    return query.order_by(model.created_at, model.id).limit(limit + 1)


def page(rows: list[Any], limit: int, convert: Any) -> Page[Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[convert(r) for r in rows],
        next_cursor=encode(rows[-1].created_at, rows[-1].id) if more else None,
    )
