"""The life of one routing (one job sent to one receiver), as a pure state machine.

With ServiceTitan:  pending -offer-> offered -accept-> accepted -sync_started-> syncing
                    -sync_succeeded-> synced -> scheduled / in_progress -> completed
                    (sync_failed -> needs_attention -retry-> syncing).
Without a provider connection the receiver works through the API only, so after accepting it
reports the outcome itself: accepted -complete-> completed, or cancel.
Any non-terminal routing can be canceled.
"""

from enum import StrEnum


class RoutingStatus(StrEnum):
    PENDING = "pending"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    SYNCING = "syncing"
    SYNCED = "synced"  # booked in the receiver's ServiceTitan
    NEEDS_ATTENTION = "needs_attention"  # booking failed in a way retries did not fix
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELED = "canceled"


class RoutingEvent(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    DECLINE = "decline"
    OFFER_EXPIRED = "offer_expired"
    SYNC_STARTED = "sync_started"
    SYNC_SUCCEEDED = "sync_succeeded"
    SYNC_FAILED = "sync_failed"
    RETRY = "retry"
    # The job's status in the receiver's provider (ServiceTitan) changed.
    PROVIDER_SCHEDULED = "provider_scheduled"
    PROVIDER_IN_PROGRESS = "provider_in_progress"
    PROVIDER_COMPLETED = "provider_completed"
    PROVIDER_CANCELED = "provider_canceled"
    # A receiver without a provider connection reports through the API that the job is done.
    COMPLETE = "complete"
    CANCEL = "cancel"


TERMINAL_STATUSES = frozenset(
    {RoutingStatus.COMPLETED, RoutingStatus.CANCELED, RoutingStatus.DECLINED, RoutingStatus.EXPIRED}
)

_PROVIDER_EVENTS = {
    RoutingStatus.SCHEDULED: RoutingEvent.PROVIDER_SCHEDULED,
    RoutingStatus.IN_PROGRESS: RoutingEvent.PROVIDER_IN_PROGRESS,
    RoutingStatus.COMPLETED: RoutingEvent.PROVIDER_COMPLETED,
    RoutingStatus.CANCELED: RoutingEvent.PROVIDER_CANCELED,
}

# Once booked, the provider is the source of truth for the job's progress: it may skip steps
# (a job completed without being dispatched), report the same status again (polling), or go
# back (a dispatched job rescheduled), so every provider status is accepted from every
# booked, non-terminal state.
_BOOKED = (RoutingStatus.SYNCED, RoutingStatus.SCHEDULED, RoutingStatus.IN_PROGRESS)

_TRANSITIONS: dict[tuple[RoutingStatus, RoutingEvent], RoutingStatus] = {
    (RoutingStatus.PENDING, RoutingEvent.OFFER): RoutingStatus.OFFERED,
    (RoutingStatus.OFFERED, RoutingEvent.ACCEPT): RoutingStatus.ACCEPTED,
    (RoutingStatus.OFFERED, RoutingEvent.DECLINE): RoutingStatus.DECLINED,
    (RoutingStatus.OFFERED, RoutingEvent.OFFER_EXPIRED): RoutingStatus.EXPIRED,
    (RoutingStatus.ACCEPTED, RoutingEvent.SYNC_STARTED): RoutingStatus.SYNCING,
    (RoutingStatus.ACCEPTED, RoutingEvent.COMPLETE): RoutingStatus.COMPLETED,
    (RoutingStatus.SYNCING, RoutingEvent.SYNC_SUCCEEDED): RoutingStatus.SYNCED,
    (RoutingStatus.SYNCING, RoutingEvent.SYNC_FAILED): RoutingStatus.NEEDS_ATTENTION,
    (RoutingStatus.NEEDS_ATTENTION, RoutingEvent.RETRY): RoutingStatus.SYNCING,
    **{(booked, event): status for booked in _BOOKED for status, event in _PROVIDER_EVENTS.items()},
    **{
        (status, RoutingEvent.CANCEL): RoutingStatus.CANCELED
        for status in RoutingStatus
        if status not in TERMINAL_STATUSES
    },
}


class InvalidTransition(ValueError):
    def __init__(self, current: RoutingStatus, event: RoutingEvent) -> None:
        self.current = current
        self.event = event
        why = "it is final" if is_terminal(current) else f"{event.value} is not allowed there"
        super().__init__(f"cannot apply '{event.value}' to a routing that is '{current.value}': {why}")


def is_terminal(status: RoutingStatus) -> bool:
    return status in TERMINAL_STATUSES


def transition(current: RoutingStatus, event: RoutingEvent) -> RoutingStatus:
    """The status after `event`, or InvalidTransition if `event` cannot happen in `current`."""
    try:
        return _TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidTransition(current, event) from None


def provider_event(status: RoutingStatus) -> RoutingEvent:
    """The event for a provider-reported status (see map_servicetitan_job_status)."""
    try:
        return _PROVIDER_EVENTS[status]
    except KeyError:
        raise ValueError(f"'{status.value}' is not a status a provider reports") from None
