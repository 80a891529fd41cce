"""Free/busy across calendars in different zones, property-tested: the busy intervals are
sorted, disjoint (touching ones merged), and cover exactly the union of the time that cancelled
and transparent events leave free, all-day events running from their own calendar's local
midnight to the next (23 or 25 hours across DST changes)."""

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.scheduling.events import from_google
from domain.scheduling.freebusy import busy
from domain.scheduling.recurrence import occurrences

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC")
# Around Europe's and North America's autumn changes (2025-10-26 and 2025-11-02).
FIRST_DAY = date(2025, 10, 24)
DAYS = 12

event = st.fixed_dictionaries(
    {
        "all_day": st.booleans(),
        "day": st.integers(0, DAYS - 1),
        "minute": st.integers(0, 24 * 60 - 1),
        "length": st.integers(1, 3 * 24 * 60),  # minutes, or days (1 + length // 1440) all-day
        "zone": st.sampled_from(ZONES),
        "transparent": st.booleans(),
        "cancelled": st.booleans(),
    }
)
calendars = st.lists(st.tuples(st.sampled_from(ZONES), st.lists(event, max_size=8)), min_size=1, max_size=3)


def google_item(index: int, spec: dict) -> dict:
    day = FIRST_DAY + timedelta(days=spec["day"])
    if spec["all_day"]:
        start, end = (
            {"date": day.isoformat()},
            {"date": (day + timedelta(1 + spec["length"] // 1440)).isoformat()},
        )
    else:
        zone = ZoneInfo(spec["zone"])
        begins = datetime.combine(day, time(0), zone) + timedelta(minutes=spec["minute"])
        ends = begins + timedelta(minutes=spec["length"])
        start = {"dateTime": begins.isoformat(), "timeZone": spec["zone"]}
        end = {"dateTime": ends.isoformat(), "timeZone": spec["zone"]}
    return {
        "id": f"e{index}",
        "status": "cancelled" if spec["cancelled"] else "confirmed",
        "start": start,
        "end": end,
        **({"transparency": "transparent"} if spec["transparent"] else {}),
    }


def exact_span(spec: dict, calendar_zone: str) -> tuple[datetime, datetime]:
    """Computed apart from the code under test: local midnights, or the given instants."""
    day = FIRST_DAY + timedelta(days=spec["day"])
    if spec["all_day"]:
        zone = ZoneInfo(calendar_zone)
        last = day + timedelta(1 + spec["length"] // 1440)
        return datetime.combine(day, time(0), zone), datetime.combine(last, time(0), zone)
    begins = datetime.combine(day, time(0), ZoneInfo(spec["zone"])) + timedelta(minutes=spec["minute"])
    return begins, begins + timedelta(minutes=spec["length"])


@settings(max_examples=300, deadline=None)
@given(calendars, st.integers(0, DAYS * 24), st.integers(1, DAYS * 24))
def test_busy_is_exactly_the_opaque_time_of_every_calendar(chosen, first_hour, hours):
    base = datetime.combine(FIRST_DAY, time(0), UTC)
    window = (base + timedelta(hours=first_hour), base + timedelta(hours=first_hour + hours))
    occurring, spans = [], []
    for zone, specs in chosen:
        items = [from_google(google_item(i, spec)) for i, spec in enumerate(specs)]
        occurring += occurrences(items, window, zone)
        spans += [exact_span(s, zone) for s in specs if not s["cancelled"] and not s["transparent"]]
    found = busy(occurring, window)

    assert all(a < b for a, b in found)
    assert all(found[i][1] < found[i + 1][0] for i in range(len(found) - 1))  # sorted, apart
    assert all(window[0] <= a and b <= window[1] for a, b in found)
    # Busy is constant between consecutive boundaries: checking one instant inside each piece
    # checks all of time.
    edges = sorted({*window, *(t for s in spans for t in s), *(t for f in found for t in f)})
    for before, after in pairwise(edges):
        at = before + (after - before) / 2
        expected = window[0] <= at < window[1] and any(a <= at < b for a, b in spans)
        assert expected == any(a <= at < b for a, b in found), at
