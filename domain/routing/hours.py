"""When a receiving company is open, in its own time zone."""

from datetime import datetime, time
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from domain.routing.base import RoutingModel, field_error
from domain.time_zones import known_zone

MIDNIGHT = time(0)


class Weekday(StrEnum):
    # Declared in datetime.weekday() order (Monday == 0), which is_open relies on.
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"


WEEKDAYS = tuple(Weekday)


class OpeningInterval(RoutingModel):
    """Open from `opens` (inclusive) to `closes` (exclusive), wall-clock time.

    `closes` 00:00 means "until midnight", so 00:00-00:00 is the whole day. Hours past midnight
    are written as two intervals, one on each day.
    """

    opens: time
    closes: time

    @field_validator("opens", "closes")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        # The zone is the company's; a per-interval offset would contradict it across DST.
        if value.tzinfo is not None:
            raise ValueError("opening times are wall-clock times without an offset")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> "OpeningInterval":
        if self.closes != MIDNIGHT and self.closes <= self.opens:
            raise field_error(
                "OpeningInterval",
                "closes",
                "closes must be after opens (00:00 means midnight; split overnight hours across two days)",
                self.closes,
            )
        return self

    def contains(self, moment: time) -> bool:
        return self.opens <= moment and (self.closes == MIDNIGHT or moment < self.closes)


class BusinessHours(RoutingModel):
    timezone: str = Field(max_length=64, description="IANA time zone, e.g. America/Los_Angeles")
    # A day that is absent is a closed day.
    weekly: dict[Weekday, tuple[OpeningInterval, ...]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("weekly")
    @classmethod
    def _no_overlap(
        cls, value: dict[Weekday, tuple[OpeningInterval, ...]]
    ) -> dict[Weekday, tuple[OpeningInterval, ...]]:
        normalized: dict[Weekday, tuple[OpeningInterval, ...]] = {}
        # Stored in weekday order with sorted intervals, so equal hours serialise identically.
        for day in WEEKDAYS:
            intervals = tuple(sorted(value.get(day, ()), key=lambda i: i.opens))
            for earlier, later in pairwise(intervals):
                if earlier.closes == MIDNIGHT or earlier.closes > later.opens:
                    raise ValueError(f"opening intervals overlap on {day}")
            if intervals:
                normalized[day] = intervals
        return normalized

    def is_open(self, at: datetime) -> bool:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("is_open needs a timezone-aware datetime")
        local = at.astimezone(ZoneInfo(self.timezone))
        day = WEEKDAYS[local.weekday()]
        moment = local.time()
        return any(interval.contains(moment) for interval in self.weekly.get(day, ()))
