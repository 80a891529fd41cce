"""IANA time zone names, checked once for every context (routing hours, platform schedules,
scheduling users)."""

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, StringConstraints


def known_zone(name: str) -> str:
    """`name` if it is an IANA time zone; else ValueError saying what is expected."""
    try:
        ZoneInfo(name)
    # A folder's name ("America") raises IsADirectoryError (an OSError) when the zones come
    # from the tzdata package, ZoneInfoNotFoundError when they come from the OS.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not a known time zone (an IANA name such as Europe/Berlin)") from None
    return name


# A field that holds an IANA time zone name.
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(known_zone)]
