"""Two-way sync: events created, changed and deleted through the API on a synced calendar.

A write goes to Google first, through the calendar's workflow (so it never races that calendar's
sync), then into the store from Google's answer. A created event's id is chosen before the call
(Google takes ids of base32hex characters, 5 to 1024 of them), so a retried insert finds the
event it made instead of making another; a change carries the etag it was based on (If-Match),
and Google's 412 comes back as a conflict instead of overwriting someone else's edit.
"""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.time_zones import known_zone

# Google's event ids: lowercase base32hex (a-v, 0-9), 5 to 1024 characters.
EventId = Annotated[str, StringConstraints(pattern=r"^[a-v0-9]{5,1024}$")]


def chosen_id(calendar_id: uuid.UUID, idempotency_key: str | None) -> str:
    """A new event's id: the same for the same request sent again (its Idempotency-Key)."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    return uuid.uuid5(calendar_id, f"event:{idempotency_key}").hex


class WriteModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhenIn(WriteModel):
    """Google's EventDateTime: `date` (all-day) or `date_time` with its offset, and a zone."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # Named `date` in JSON, as Google names it.
    day: date | None = Field(default=None, alias="date")
    date_time: AwareDatetime | None = None
    time_zone: Annotated[str, StringConstraints(max_length=64)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.day is None) == (self.date_time is None):
            raise ValueError("give exactly one of date (all-day) and date_time")
        if self.time_zone is not None:
            known_zone(self.time_zone)
        return self

    def google(self) -> dict[str, str]:
        out = {"date": self.day.isoformat()} if self.day else {"dateTime": self.date_time.isoformat()}  # type: ignore[union-attr]
        if self.time_zone:
            out["timeZone"] = self.time_zone
        return out

    def key(self) -> datetime | date:
        return self.date_time if self.date_time is not None else self.day  # type: ignore[return-value]


Text = Annotated[str, StringConstraints(max_length=8192)]


class EventFields(WriteModel):
    """What a write sets; on a change, what is left out stays as it is."""

    summary: Annotated[str, StringConstraints(max_length=1024)] | None = None
    description: Text | None = None
    location: Annotated[str, StringConstraints(max_length=1024)] | None = None
    start: WhenIn | None = None
    end: WhenIn | None = None
    transparent: bool | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start is not None and self.end is not None:
            if (self.start.day is None) != (self.end.day is None):
                raise ValueError("start and end are both all-day (date) or both timed (date_time)")
            if self.end.key() <= self.start.key():  # type: ignore[operator]
                raise ValueError("the event must end after it starts")
        return self

    def google(self) -> dict[str, object]:
        body: dict[str, object] = {
            k: v
            for k, v in (
                ("summary", self.summary),
                ("description", self.description),
                ("location", self.location),
            )
            if v is not None
        }
        if self.start is not None:
            body["start"] = self.start.google()
        if self.end is not None:
            body["end"] = self.end.google()
        if self.transparent is not None:
            body["transparency"] = "transparent" if self.transparent else "opaque"
        return body


class EventCreate(EventFields):
    start: WhenIn
    end: WhenIn


class EventWrite(WriteModel):
    action: Literal["insert", "patch", "delete"]
    event_id: EventId
    fields: EventFields | None = None
    # The version the change is based on: Google refuses it (412) if the event changed since.
    etag: Annotated[str, StringConstraints(max_length=255)] | None = None


class WriteRequest(WriteModel):
    calendar_id: uuid.UUID
    write: EventWrite


class Written(WriteModel):
    event_id: str
    etag: str | None = None
    deleted: bool = False
    # Refused by Google as it stands (412: changed since the etag; 404: not there): not written.
    refused: int | None = None
    reason: str | None = None
