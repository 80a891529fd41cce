"""The time range a scheduling read asks for (`start`, `end`: ISO 8601 with an offset), checked
against the longest range that read serves."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query

from api import paging
from api.problems import ProblemError

Start = Annotated[
    paging.Instant, Query(description="Start of the range (inclusive), e.g. 2026-11-30T00:00:00+01:00")
]
End = Annotated[paging.Instant, Query(description="End of the range (exclusive), after `start`")]


def window(start: datetime, end: datetime, longest: timedelta) -> tuple[datetime, datetime]:
    if end <= start:
        raise ProblemError(
            422,
            "Invalid time range",
            f"end ({end.isoformat()}) must be after start ({start.isoformat()}).",
            retryable=False,
        )
    if end - start > longest:
        raise ProblemError(
            422,
            "Time range too long",
            f"A range spans at most {longest.days} days; this one spans {end - start}. Ask for less.",
            retryable=False,
        )
    return start, end
