"""The calendar sync's rules that need no server: how Google's refusals are classified, when a
burst of notifications is synced, when a channel is renewed, what a write may carry."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from activities.google_calendar import classified, until_quota_resets
from clients.google_calendar import GoogleApiError
from domain.scheduling.sync import BURST_LONGEST, BURST_QUIET, CalendarSyncState, Channel, hold_until
from domain.scheduling.writes import EventCreate, chosen_id

NOW = datetime(2026, 3, 8, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "reason", "retryable"),
    [
        (403, "rateLimitExceeded", True),
        (403, "userRateLimitExceeded", True),
        (429, "rateLimitExceeded", True),
        (403, "quotaExceeded", True),
        (403, "dailyLimitExceeded", True),
        (403, "forbidden", False),
        (400, "invalid", False),
        (404, "notFound", False),
        (500, "backendError", True),
        (503, "", True),
    ],
)
def test_refusals_are_classified_by_status_and_reason(status: int, reason: str, retryable: bool) -> None:
    error = classified(GoogleApiError(status, reason, "whatever the message says"))
    assert error.non_retryable is not retryable


def test_rate_limits_honour_retry_after_and_quotas_wait_for_their_window() -> None:
    assert classified(
        GoogleApiError(429, "rateLimitExceeded", "", retry_after=7)
    ).next_retry_delay == timedelta(seconds=7)
    assert (
        classified(GoogleApiError(403, "rateLimitExceeded", "")).next_retry_delay is None
    )  # the policy's backoff
    assert classified(GoogleApiError(403, "quotaExceeded", "")).next_retry_delay == timedelta(minutes=1)
    # Daily quotas reset at midnight Pacific time: at 01:30 PST on the day clocks go forward,
    # that is 21.5 hours away, not the 22.5 the wall clock suggests.
    assert until_quota_resets("dailyLimitExceeded", NOW) == timedelta(hours=21, minutes=30)
    evening = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 23:00 PST on the 7th
    assert until_quota_resets("dailyLimitExceeded", evening) == timedelta(hours=1)


def _state(**changes: object) -> CalendarSyncState:
    return CalendarSyncState(
        calendar_id=uuid.uuid4(), tenant_id=uuid.uuid4(), user_id=uuid.uuid4(), **changes
    )


def test_a_burst_waits_for_quiet_but_not_forever_and_urgent_requests_do_not_wait() -> None:
    assert hold_until(_state(urgent=False, first_notified=NOW, last_notified=NOW)) == NOW + BURST_QUIET
    late = NOW + timedelta(seconds=4.5)
    assert hold_until(_state(urgent=False, first_notified=NOW, last_notified=late)) == NOW + BURST_LONGEST
    assert hold_until(_state(urgent=True, first_notified=NOW, last_notified=NOW)) is None
    assert hold_until(_state(urgent=False)) is None


@given(st.integers(min_value=60, max_value=30 * 24 * 3600))
def test_a_channel_is_renewed_before_it_expires_never_more_than_an_hour_early(life: int) -> None:
    channel = Channel(id="c", resource_id="r", created_at=NOW, expires_at=NOW + timedelta(seconds=life))
    renew = channel.renew_at()
    assert NOW < renew < channel.expires_at
    assert channel.expires_at - renew <= timedelta(hours=1)


def test_a_new_event_id_is_googles_kind_and_the_same_for_the_same_request() -> None:
    calendar = uuid.uuid4()
    assert chosen_id(calendar, "k1") == chosen_id(calendar, "k1") != chosen_id(calendar, "k2")
    assert chosen_id(uuid.uuid4(), "k1") != chosen_id(calendar, "k1")
    assert set(chosen_id(calendar, None)) <= set("0123456789abcdefghijklmnopqrstuv")


def test_an_event_must_end_after_it_starts_in_the_same_kind_of_time() -> None:
    start = {"date_time": "2026-03-29T01:30:00+01:00"}
    # Across the change: 03:30+02:00 is one hour after 01:30+01:00, later though it reads.
    EventCreate(start=start, end={"date_time": "2026-03-29T03:30:00+02:00"})
    with pytest.raises(ValidationError, match="end after it starts"):
        EventCreate(start=start, end={"date_time": "2026-03-29T01:30:00+02:00"})
    with pytest.raises(ValidationError, match="both all-day"):
        EventCreate(start=start, end={"date": "2026-03-30"})
    with pytest.raises(ValidationError, match="exactly one"):
        EventCreate(
            start={"date": "2026-03-29", "date_time": "2026-03-29T01:30:00+01:00"}, end={"date": "2026-03-30"}
        )
    with pytest.raises(ValidationError):
        EventCreate(start={"date": "2026-03-29", "time_zone": "Mars/Olympus"}, end={"date": "2026-03-30"})
