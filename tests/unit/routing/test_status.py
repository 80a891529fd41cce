from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.routing import (
    TERMINAL_STATUSES,
    InvalidTransition,
    RoutingEvent,
    RoutingStatus,
    is_terminal,
    provider_event,
    transition,
)

S = RoutingStatus
E = RoutingEvent

# The full table, written out independently of the implementation: every pair not listed
# here must be refused.
ALLOWED = {
    (S.PENDING, E.OFFER): S.OFFERED,
    (S.PENDING, E.CANCEL): S.CANCELED,
    (S.OFFERED, E.ACCEPT): S.ACCEPTED,
    (S.OFFERED, E.DECLINE): S.DECLINED,
    (S.OFFERED, E.OFFER_EXPIRED): S.EXPIRED,
    (S.OFFERED, E.CANCEL): S.CANCELED,
    (S.ACCEPTED, E.SYNC_STARTED): S.SYNCING,
    (S.ACCEPTED, E.COMPLETE): S.COMPLETED,  # receiver without a provider, through the API
    (S.ACCEPTED, E.CANCEL): S.CANCELED,
    (S.SYNCING, E.SYNC_SUCCEEDED): S.SYNCED,
    (S.SYNCING, E.SYNC_FAILED): S.NEEDS_ATTENTION,
    (S.SYNCING, E.CANCEL): S.CANCELED,
    (S.NEEDS_ATTENTION, E.RETRY): S.SYNCING,
    (S.NEEDS_ATTENTION, E.CANCEL): S.CANCELED,
    (S.SYNCED, E.PROVIDER_SCHEDULED): S.SCHEDULED,
    (S.SYNCED, E.PROVIDER_IN_PROGRESS): S.IN_PROGRESS,
    (S.SYNCED, E.PROVIDER_COMPLETED): S.COMPLETED,
    (S.SYNCED, E.PROVIDER_CANCELED): S.CANCELED,
    (S.SYNCED, E.CANCEL): S.CANCELED,
    (S.SCHEDULED, E.PROVIDER_SCHEDULED): S.SCHEDULED,
    (S.SCHEDULED, E.PROVIDER_IN_PROGRESS): S.IN_PROGRESS,
    (S.SCHEDULED, E.PROVIDER_COMPLETED): S.COMPLETED,
    (S.SCHEDULED, E.PROVIDER_CANCELED): S.CANCELED,
    (S.SCHEDULED, E.CANCEL): S.CANCELED,
    (S.IN_PROGRESS, E.PROVIDER_SCHEDULED): S.SCHEDULED,  # dispatched, then rescheduled
    (S.IN_PROGRESS, E.PROVIDER_IN_PROGRESS): S.IN_PROGRESS,
    (S.IN_PROGRESS, E.PROVIDER_COMPLETED): S.COMPLETED,
    (S.IN_PROGRESS, E.PROVIDER_CANCELED): S.CANCELED,
    (S.IN_PROGRESS, E.CANCEL): S.CANCELED,
}


@pytest.mark.parametrize(("status", "event"), list(product(S, E)))
def test_transition_table(status: RoutingStatus, event: RoutingEvent) -> None:
    if (status, event) in ALLOWED:
        assert transition(status, event) is ALLOWED[status, event]
    else:
        with pytest.raises(InvalidTransition) as excinfo:
            transition(status, event)
        assert (excinfo.value.current, excinfo.value.event) == (status, event)


def test_terminal_statuses() -> None:
    assert {s for s in S if is_terminal(s)} == {S.COMPLETED, S.CANCELED, S.DECLINED, S.EXPIRED}
    assert frozenset({S.COMPLETED, S.CANCELED, S.DECLINED, S.EXPIRED}) == TERMINAL_STATUSES


def test_every_status_is_reachable_from_pending() -> None:
    reached, frontier = {S.PENDING}, [S.PENDING]
    while frontier:
        current = frontier.pop()
        for (source, _), target in ALLOWED.items():
            if source is current and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(S)


def test_error_messages_say_what_went_wrong() -> None:
    with pytest.raises(InvalidTransition, match="'accept' to a routing that is 'canceled': it is final"):
        transition(S.CANCELED, E.ACCEPT)
    message = "'retry' to a routing that is 'synced': retry is not allowed there"
    with pytest.raises(InvalidTransition, match=message):
        transition(S.SYNCED, E.RETRY)


def test_invalid_transition_is_a_value_error() -> None:
    # Callers that treat bad input uniformly (e.g. the API's 409/422 mapping) can catch ValueError.
    assert issubclass(InvalidTransition, ValueError)


@given(st.lists(st.sampled_from(list(E)), max_size=40))
def test_random_event_sequences_never_leave_a_terminal_status(events: list[RoutingEvent]) -> None:
    status = S.PENDING
    for event in events:
        try:
            new = transition(status, event)
        except InvalidTransition:
            continue
        assert not is_terminal(status), f"{status} moved to {new} on {event}"
        status = new
    if is_terminal(status):
        for event in E:
            with pytest.raises(InvalidTransition):
                transition(status, event)


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (S.SCHEDULED, E.PROVIDER_SCHEDULED),
        (S.IN_PROGRESS, E.PROVIDER_IN_PROGRESS),
        (S.COMPLETED, E.PROVIDER_COMPLETED),
        (S.CANCELED, E.PROVIDER_CANCELED),
    ],
)
def test_provider_event_for_a_reported_status(status: RoutingStatus, event: RoutingEvent) -> None:
    assert provider_event(status) is event


@pytest.mark.parametrize("status", [S.PENDING, S.SYNCED, S.NEEDS_ATTENTION, S.DECLINED])
def test_provider_event_refuses_statuses_a_provider_does_not_report(status: RoutingStatus) -> None:
    with pytest.raises(ValueError, match="not a status a provider reports"):
        provider_event(status)
