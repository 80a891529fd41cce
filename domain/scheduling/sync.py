"""The calendar sync's contracts: one long-lived workflow per chosen calendar
(`calendar-sync:{calendar_id}`, on the `scheduling` task queue), its messages, and what its
activities take and answer. Events never travel here: activities page them from Google into
PostgreSQL and answer counts."""

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

TASK_QUEUE = "scheduling"
CALENDAR_SYNC_WORKFLOW = "CalendarSync"
PERIODIC_SYNC_WORKFLOW = "CalendarPeriodicSync"
_HOUR = timedelta(hours=1)


def workflow_id(calendar_id: uuid.UUID) -> str:
    return f"calendar-sync:{calendar_id}"


def schedule_id(calendar_id: uuid.UUID) -> str:
    """The Temporal Schedule that asks the calendar for a sync periodically (the fallback for
    notifications that never come)."""
    return f"calendar-sync-periodic:{calendar_id}"


class SyncModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyncStatus(StrEnum):
    IDLE = "idle"
    SYNCING = "syncing"
    OK = "ok"
    ERROR = "error"
    REAUTHORIZATION_REQUIRED = "reauthorization_required"
    STOPPED = "stopped"


class Signals(StrEnum):
    # A push notification said the calendar changed (the webhook).
    NOTIFIED = "notified"
    # The calendar's Temporal Schedule: time for the periodic sync.
    PERIODIC = "periodic"
    # The user connected their Google account again.
    RECONNECTED = "reconnected"


class Updates(StrEnum):
    # `POST .../sync`: answers once a sync that started after the request has ended.
    SYNC = "sync"
    # An event created, changed or deleted at Google (domain.scheduling.writes), then stored.
    WRITE = "write"
    # Deselected, or the account disconnected: channels stopped, then the workflow ends.
    STOP = "stop"


class SyncRequest(SyncModel):
    calendar_id: uuid.UUID
    # Drop the sync token and list the whole calendar.
    full: bool = False


class SyncOutcome(SyncModel):
    """What one sync activity did (a full listing, or the changes since the sync token)."""

    mode: Literal["full", "incremental"]
    pages: int
    # Event resources received from Google, deletions included.
    processed: int
    # Events visible after the sync (not deleted).
    events: int
    # A 410 (fullSyncRequired / updatedMinTooLongAgo) turned an incremental sync into a full one.
    resynced: bool = False


class SyncResult(SyncModel):
    """The calendar's state after the sync that answered a request."""

    status: SyncStatus
    outcome: SyncOutcome | None = None
    error: str | None = None
    finished_at: AwareDatetime | None = None


class SyncFailure(SyncModel):
    calendar_id: uuid.UUID
    status: SyncStatus
    error: str


class Channel(SyncModel):
    id: str
    resource_id: str
    created_at: AwareDatetime
    expires_at: AwareDatetime

    def renew_at(self) -> datetime:
        """A quarter of its life before it ends, at most an hour before: the next channel is
        open before this one closes."""
        margin = min((self.expires_at - self.created_at) / 4, _HOUR)
        return self.expires_at - margin


class WatchRequest(SyncModel):
    calendar_id: uuid.UUID
    # The channel's id is derived from it: a retried watch cannot open a second channel.
    number: int


class ChannelsStop(SyncModel):
    calendar_id: uuid.UUID
    # Stop every open channel of the calendar but this one (None: all of them).
    keep: str | None = None


class SyncAsk(SyncModel):
    """`POST .../sync`'s request: `full` drops the sync token and lists the whole calendar."""

    full: bool = False


class CalendarSyncState(BaseModel):
    """Everything a run carries into the next (continue-as-new), handler state included. The
    workflow changes it in place."""

    model_config = ConfigDict(extra="forbid")

    calendar_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    status: SyncStatus = SyncStatus.IDLE
    # Sync requests (notifications, the schedule, the API) counted as they come, and the count
    # the last sync started from: requests that arrive during a sync coalesce into the next one.
    asked: int = 1
    done: int = 0
    full_asked: bool = True
    # Notifications wait for the burst they belong to (domain: `hold_until`); a request from
    # the API, the schedule or a reconnect does not.
    urgent: bool = True
    first_notified: AwareDatetime | None = None
    last_notified: AwareDatetime | None = None
    last: SyncResult | None = None
    channel: Channel | None = None
    channels_opened: int = 0
    # False once the worker says push is not configured (no webhook address): periodic only.
    push: bool = True
    # When a failed watch may be tried again.
    watch_after: AwareDatetime | None = None
    stopping: bool = False
    # Syncs in this run; the run continues as new after `syncs_per_run` (or when Temporal says).
    syncs: int = 0
    syncs_per_run: int = 200


# Google sends one notification per change: a burst of changes (an import, a recurring edit)
# is synced once, after a second without news, or at most five seconds after its first.
BURST_QUIET = timedelta(seconds=1)
BURST_LONGEST = timedelta(seconds=5)


def hold_until(state: CalendarSyncState) -> datetime | None:
    """Until when a sync asked for only by notifications waits for more of them."""
    if state.urgent or state.first_notified is None or state.last_notified is None:
        return None
    return min(state.last_notified + BURST_QUIET, state.first_notified + BURST_LONGEST)


class Progress(SyncModel):
    """The workflow's query: where the calendar stands."""

    status: SyncStatus
    pending: bool
    last: SyncResult | None
    channel: Channel | None
