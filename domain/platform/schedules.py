"""Cron schedules of platform jobs: what a caller asks for (a job spec plus when to run it), the
rules a bad request breaks (each a 422 naming its field), and what a scheduled run carries.

A schedule is a Temporal Schedule whose action starts `PlatformScheduledJob` (workflows/
platform_schedule.py) with a `ScheduledRun`: ids only. The spec, secret env values included,
stays in PostgreSQL (`platform_schedules`), so nothing secret sits in the schedule Temporal keeps
and the Web UI shows.
"""

import re
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from pydantic import Field, ValidationInfo, field_validator

from domain.platform.base import PlatformModel
from domain.platform.spec import JobSpec
from domain.time_zones import known_zone

SCHEDULED_JOB_WORKFLOW = "PlatformScheduledJob"
FROM_SCHEDULE_ACTIVITY = "platform.from_schedule"
# Beyond a year between runs a schedule is a mistake, not a cron; below a second, a flood.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
# Temporal raises a catch-up window below 10 s to 10 s; a year is its own default.
MIN_CATCHUP_SECONDS = 10
MAX_CATCHUP_SECONDS = 366 * 24 * 3600
# A backfill starts one job per time in its range: a year of them at most.
MAX_BACKFILL_SECONDS = 366 * 24 * 3600


def temporal_schedule_id(tenant_id: UUID, schedule_id: UUID) -> str:
    """The Temporal Schedule's id: namespaced by tenant."""
    return f"platform:{tenant_id}:{schedule_id}"


def run_workflow_id(schedule_id: UUID) -> str:
    """The id of the workflow each run starts; Temporal appends the run's time to it."""
    return f"schedule:{schedule_id}"


def scheduled_job_id(schedule_id: UUID, run_workflow_id: str) -> UUID:
    """The job of one run: the same id however often its store call is retried, and known from
    the run's workflow id alone (describe's recent actions name the jobs they started)."""
    return uuid5(schedule_id, run_workflow_id)


class Overlap(StrEnum):
    """What a run does when the previous run's job has not ended (Temporal's overlap policies)."""

    SKIP = "skip"
    BUFFER_ONE = "buffer_one"
    BUFFER_ALL = "buffer_all"
    CANCEL_OTHER = "cancel_other"
    TERMINATE_OTHER = "terminate_other"
    ALLOW_ALL = "allow_all"


# --- cron ----------------------------------------------------------------------------------------
# The classic five fields. Temporal accepts more (seconds, years, CRON_TZ=, @every); this API
# takes the portable subset, with the time zone and the interval as fields of their own.
_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, lowest, highest, names for the values from `lowest` on)
_FIELDS: list[tuple[str, int, int, list[str]]] = [
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
]
_ITEM = re.compile(r"^(?P<range>\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/(?P<step>[0-9]+))?$")


def _value(text: str, field: str, low: int, high: int, names: list[str]) -> int:
    if text.upper() in names:
        return low + names.index(text.upper())
    if not text.isdigit():
        raise ValueError(f"{field}: {text!r} is not a number{' or a name' if names else ''}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{field}: {value} is out of range {low}-{high}")
    return value


def check_cron(expression: str) -> str:
    """The expression with its whitespace normalised, or ValueError saying what is wrong."""
    text = " ".join(expression.split())
    if text.lower() in _MACROS:
        return text.lower()
    parts = text.split(" ")
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"or is one of {', '.join(sorted(_MACROS))}; this one has {len(parts)}"
        )
    for part, (field, low, high, names) in zip(parts, _FIELDS, strict=True):
        for item in part.split(","):
            match = _ITEM.match(item)
            if match is None:
                raise ValueError(f"{field}: {item!r} is not a value, range (a-b), * or a step (/n)")
            if match["step"] is not None and int(match["step"]) == 0:
                raise ValueError(f"{field}: a step of 0 never advances")
            if match["range"] == "*":
                continue
            first, _, last = match["range"].partition("-")
            start = _value(first, field, low, high, names)
            if last and _value(last, field, low, high, names) < start:
                raise ValueError(f"{field}: the range {match['range']} runs backwards")
    return text


class ScheduleSpec(JobSpec):
    """POST /api/platform/schedules: the job to run, as POST /api/platform/jobs takes it, and
    when (exactly one of `cron` and `interval_seconds`)."""

    cron: str | None = Field(
        None, min_length=1, max_length=200, description="minute hour day-of-month month day-of-week"
    )
    interval_seconds: int | None = Field(
        None,
        validate_default=True,
        ge=1,
        le=MAX_INTERVAL_SECONDS,
        description="Every this many seconds (from the epoch); exactly one of cron and interval_seconds",
    )
    timezone: str = Field("UTC", max_length=64, description="IANA time zone the cron is read in")
    overlap: Overlap = Field(Overlap.SKIP, description="When the previous run's job has not ended yet")
    catchup_window_seconds: int = Field(
        300,
        ge=MIN_CATCHUP_SECONDS,
        le=MAX_CATCHUP_SECONDS,
        description="Runs missed (Temporal was down) are made up if they are at most this old",
    )
    paused: bool = False
    note: str = Field("", max_length=500)

    @field_validator("cron")
    @classmethod
    def _cron(cls, cron: str | None) -> str | None:
        return None if cron is None else check_cron(cron)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, timezone: str) -> str:
        return known_zone(timezone)

    @field_validator("interval_seconds", mode="before")
    @classmethod
    def _one_timing(cls, interval: Any, info: ValidationInfo) -> Any:
        # Here, not in a model validator, so that the error names a field. A cron that failed
        # its own checks is missing from info.data (and reported there); one not given is None.
        if "cron" not in info.data:
            return interval
        if (interval is None) == (info.data["cron"] is None):
            which = "neither was given" if interval is None else "both were given"
            raise ValueError(f"give exactly one of cron and interval_seconds ({which})")
        return interval

    def job(self) -> JobSpec:
        """The spec of the job each run starts."""
        return JobSpec.model_validate(self.model_dump(include=set(JobSpec.model_fields)))


class ScheduledRun(PlatformModel):
    """The input of `PlatformScheduledJob`, fixed in the schedule: ids, nothing secret."""

    schedule_id: UUID
    tenant_id: UUID


class FromSchedule(PlatformModel):
    """Store call: the job of one run, created (once) from the schedule's stored spec."""

    schedule_id: UUID
    # The run's workflow id (the schedule's run id with its time): names the job and its
    # correlation id.
    run_workflow_id: str
