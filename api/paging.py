"""Keyset paging on (created_at, id): stable under inserts, opaque cursor for clients."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator
from sqlalchemy import Select, and_, or_

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


# The cursor is the last row's created_at in microseconds since the epoch and its id in hex.
# Its pattern says exactly what is accepted: every string that matches it is a valid position.
CURSOR_PATTERN = r"^[0-9]{1,16}\.[0-9a-f]{32}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode(created_at: datetime, id: uuid.UUID) -> str:
    return f"{(created_at - _EPOCH) // timedelta(microseconds=1)}.{id.hex}"


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    micros, _, hex_id = cursor.partition(".")
    return _EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id)


Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="next_cursor of the previous page")]


def _date_time_text(value: object) -> object:
    # Pydantic would take "0.5" for seconds since the epoch: the schema says date-time, so text
    # that is not one is refused rather than read as a number.
    if isinstance(value, str) and not (value[:4].isdigit() and value[4:5] == "-"):
        raise ValueError("an ISO 8601 date-time with its offset, e.g. 2026-11-30T12:00:00Z")
    return value


# An ISO 8601 date-time in a query, with its offset: a bound of a time range.
Instant = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]

# A bound of a created-at range filter.
CreatedBound = Annotated[
    AwareDatetime | None,
    BeforeValidator(_date_time_text),
    Query(description="ISO 8601 date-time with its offset, e.g. 2026-11-30T12:00:00Z"),
]


def apply(
    query: Select[Any], model: Any, cursor: str | None, limit: int, *, newest_first: bool = False
) -> Select[Any]:
    if newest_first:
        if cursor:
            at, id = decode(cursor)
            query = query.where(or_(model.created_at < at, and_(model.created_at == at, model.id < id)))
        return query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
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
