from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.routing import BusinessHours, OpeningInterval, Weekday

LA = ZoneInfo("America/Los_Angeles")
NINE_TO_FIVE = (OpeningInterval(opens=time(9), closes=time(17)),)
HOURS = BusinessHours(
    timezone="America/Los_Angeles",
    weekly={
        Weekday.MONDAY: NINE_TO_FIVE,
        Weekday.FRIDAY: NINE_TO_FIVE,
        Weekday.SATURDAY: (
            OpeningInterval(opens=time(8), closes=time(12)),
            OpeningInterval(opens=time(13), closes=time(0)),  # until midnight
        ),
    },
)


@pytest.mark.parametrize(
    ("local", "open_"),
    [
        (datetime(2025, 3, 3, 9, 0), True),  # Monday, opening minute is inclusive
        (datetime(2025, 3, 3, 16, 59, 59), True),
        (datetime(2025, 3, 3, 17, 0), False),  # closing minute is exclusive
        (datetime(2025, 3, 3, 8, 59), False),
        (datetime(2025, 3, 4, 12, 0), False),  # Tuesday: no hours, closed
        (datetime(2025, 3, 8, 12, 30), False),  # Saturday lunch break
        (datetime(2025, 3, 8, 23, 59), True),  # Saturday until midnight
        (datetime(2025, 3, 9, 0, 0), False),  # Sunday
    ],
)
def test_is_open_in_the_company_time_zone(local: datetime, open_: bool) -> None:
    assert HOURS.is_open(local.replace(tzinfo=LA)) is open_


def test_instant_is_converted_to_local_time() -> None:
    # Monday 17:30 UTC is 09:30 in Los Angeles (PST, UTC-8): open.
    assert HOURS.is_open(datetime(2025, 3, 3, 17, 30, tzinfo=UTC))
    # Monday 09:30 UTC is Monday 01:30 in Los Angeles: closed.
    assert not HOURS.is_open(datetime(2025, 3, 3, 9, 30, tzinfo=UTC))
    # Same instant written with another offset gives the same answer.
    assert HOURS.is_open(datetime(2025, 3, 3, 12, 30, tzinfo=timezone(timedelta(hours=-5))))


def test_daylight_saving_time_is_respected() -> None:
    # 16:30 UTC is 08:30 PST in winter (closed) but 09:30 PDT after the March switch (open).
    assert not HOURS.is_open(datetime(2025, 3, 3, 16, 30, tzinfo=UTC))
    assert HOURS.is_open(datetime(2025, 3, 10, 16, 30, tzinfo=UTC))


def test_whole_day_interval() -> None:
    always = BusinessHours(
        timezone="UTC",
        weekly={day: (OpeningInterval(opens=time(0), closes=time(0)),) for day in Weekday},
    )
    start = datetime(2025, 1, 6, tzinfo=UTC)
    assert all(always.is_open(start + timedelta(minutes=37 * i)) for i in range(300))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        HOURS.is_open(datetime(2025, 3, 3, 10))


def test_intervals_are_stored_sorted_in_weekday_order() -> None:
    morning = OpeningInterval(opens=time(8), closes=time(12))
    evening = OpeningInterval(opens=time(14), closes=time(18))
    hours = BusinessHours(
        timezone="UTC", weekly={Weekday.SUNDAY: (evening, morning), Weekday.MONDAY: (morning,)}
    )
    assert list(hours.weekly) == [Weekday.MONDAY, Weekday.SUNDAY]
    assert hours.weekly[Weekday.SUNDAY] == (morning, evening)


@pytest.mark.parametrize(
    "intervals",
    [
        [("08:00", "12:00"), ("11:00", "15:00")],
        [("08:00", "00:00"), ("20:00", "22:00")],
    ],
)
def test_overlapping_intervals_are_rejected(intervals: list[tuple[str, str]]) -> None:
    weekly = {"monday": [{"opens": opens, "closes": closes} for opens, closes in intervals]}
    with pytest.raises(ValidationError, match="overlap on monday") as excinfo:
        BusinessHours.model_validate({"timezone": "UTC", "weekly": weekly})
    assert [error["loc"] for error in excinfo.value.errors()] == [("weekly",)]


@pytest.mark.parametrize(("opens", "closes"), [("17:00", "09:00"), ("09:00", "09:00"), ("22:00", "02:00")])
def test_interval_must_close_after_it_opens(opens: str, closes: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        OpeningInterval.model_validate({"opens": opens, "closes": closes})
    assert [error["loc"] for error in excinfo.value.errors()] == [("closes",)]


def test_interval_times_carry_no_offset() -> None:
    with pytest.raises(ValidationError) as excinfo:
        OpeningInterval.model_validate({"opens": "09:00+02:00", "closes": "17:00"})
    assert [error["loc"] for error in excinfo.value.errors()] == [("opens",)]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "america/los_angeles", "../etc/passwd", "", "America"])
def test_unknown_time_zone_is_rejected(zone: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        BusinessHours(timezone=zone)
    assert [error["loc"] for error in excinfo.value.errors()] == [("timezone",)]


def test_unknown_weekday_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        BusinessHours.model_validate({"timezone": "UTC", "weekly": {"funday": []}})
    assert excinfo.value.errors()[0]["loc"][0] == "weekly"
