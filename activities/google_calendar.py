"""The calendar sync's Google Calendar activities: page events into PostgreSQL, open and stop
push channels.

The official client is synchronous: each call runs in a thread, so the worker's event loop
keeps serving other activities and heartbeats meanwhile. Every refusal is classified here by
status code and Google's reason (never by message text) into what Temporal should do next.
"""

import asyncio
import dataclasses
import functools
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import heartbeat
from activities.dependencies import Dependencies
from clients import google_calendar
from clients.google_calendar import GoogleApiError, ReauthorizationRequired
from domain.scheduling.events import google_fields
from domain.scheduling.sync import (
    Channel,
    ChannelsStop,
    SyncOutcome,
    SyncRequest,
    SyncStatus,
    WatchRequest,
)
from domain.scheduling.writes import WriteRequest, Written
from store import calendar_events, google_tokens
from store.calendar_events import event_row
from store.scheduling import Calendar, CalendarChannel, CalendarEvent
from store.sealed import open_text, seal_text

T = TypeVar("T")

# Error types the workflow decides by.
REAUTHORIZATION_REQUIRED = "ReauthorizationRequired"
CALENDAR_GONE = "CalendarGone"
CHANNEL_UNKNOWN = "ChannelUnknown"
# 410 reasons after which only a full listing helps (the sync token is no good).
FULL_SYNC_REASONS = ("fullSyncRequired", "updatedMinTooLongAgo")
RATE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded")
QUOTA_REASONS = ("quotaExceeded", "dailyLimitExceeded")
# Google's daily quotas reset at midnight Pacific time; other quota windows are per minute.
_QUOTA_DAY_ZONE = ZoneInfo("America/Los_Angeles")
QUOTA_MINUTE = timedelta(minutes=1)


def until_quota_resets(reason: str, now: datetime) -> timedelta:
    if reason != "dailyLimitExceeded":
        return QUOTA_MINUTE
    local = now.astimezone(_QUOTA_DAY_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), _QUOTA_DAY_ZONE)
    # In UTC: within one zone Python subtracts wall times, an hour off on the days clocks change.
    return midnight.astimezone(UTC) - now.astimezone(UTC)


def classified(error: GoogleApiError) -> ApplicationError:
    """What Temporal does with a refusal: retry (after Google's Retry-After, or the quota's
    window), or stop trying (a request that cannot succeed as it is)."""
    delay: timedelta | None = None
    if error.status == 429 or (error.status == 403 and error.reason in RATE_REASONS):
        # Exponential backoff by the retry policy, unless Google named a delay.
        retryable = True
        if error.retry_after is not None:
            delay = timedelta(seconds=error.retry_after)
    elif error.status == 403 and error.reason in QUOTA_REASONS:
        # Retrying sooner only spends calls the quota refuses.
        retryable, delay = True, until_quota_resets(error.reason, datetime.now(UTC))
    elif error.status == 404:
        return ApplicationError(str(error), type=CALENDAR_GONE, non_retryable=True)
    else:
        retryable = error.status >= 500 or error.status in (401, 408, 409)
    return ApplicationError(
        str(error), type=f"Google{error.status}", non_retryable=not retryable, next_retry_delay=delay
    )


class _Metrics:
    """The sync's Prometheus metrics, through the worker's Temporal runtime (one endpoint)."""

    @staticmethod
    def count(name: str, description: str, value: int = 1, **labels: str) -> None:
        activity.metric_meter().create_counter(name, description).add(value, labels)

    def call(self, operation: str) -> None:
        self.count(
            "scheduling_calendar_api_calls_total", "Calls to the Google Calendar API", operation=operation
        )

    def error(self, reason: str) -> None:
        self.count(
            "scheduling_calendar_api_errors_total", "Google Calendar API refusals, by reason", reason=reason
        )

    def processed(self, events: int) -> None:
        self.count("scheduling_calendar_events_processed_total", "Event resources received by syncs", events)

    def result(self, result: str) -> None:
        self.count("scheduling_calendar_sync_total", "Calendar syncs, by result", result=result)

    def synced(self, result: str, seconds: float) -> None:
        self.result(result)
        activity.metric_meter().create_histogram_float(
            "scheduling_calendar_sync_duration_seconds", "Time a calendar sync took", "seconds"
        ).record(seconds)


metrics = _Metrics()


@dataclass
class _Listing:
    """Where a sync's listing stands: the whole calendar or the changes since the sync token,
    the next page, and the generation its events are stored under."""

    full: bool
    page_token: str | None
    generation: int
    resynced: bool = False

    @classmethod
    def of(cls, calendar: Calendar, full_asked: bool) -> "_Listing":
        """Resumes the listing the calendar's cursor is in (unless a full one is asked for and
        that one is not), else starts one."""
        full = full_asked or calendar.sync_token is None
        if calendar.page_token is not None and (calendar.listing_full or not full):
            return cls(calendar.listing_full, calendar.page_token, calendar.generation)
        return cls(full, None, calendar.generation + (1 if full else 0))

    def restartable(self) -> bool:
        """A 410 means the token or the page token is no good, unless a fresh full listing got it."""
        return not (self.full and self.page_token is None)

    def restart(self, calendar: Calendar) -> None:
        self.full, self.resynced, self.page_token = True, True, None
        self.generation = max(self.generation, calendar.generation) + 1


class CalendarSync:
    def __init__(self, deps: Dependencies) -> None:
        self._db = deps.database
        self._settings = deps.settings
        self._cipher = deps.cipher

    # -- shared ---------------------------------------------------------------------------------

    async def _service(
        self, session: AsyncSession, calendar: Calendar
    ) -> tuple[Any, Callable[[], Awaitable[None]]]:
        """The user's Calendar service, and what keeps a refreshed access token afterwards."""
        try:
            tokens = await google_tokens.tokens_of(session, self._cipher, calendar.user_id)
        except google_tokens.Unusable as exc:
            if exc.status == "reauthorization_required":
                raise ApplicationError(
                    exc.status, type=REAUTHORIZATION_REQUIRED, non_retryable=True
                ) from None
            raise ApplicationError(
                f"Google account {exc.status}", type=CALENDAR_GONE, non_retryable=True
            ) from None
        creds = google_calendar.credentials(self._settings, tokens)
        service = await asyncio.to_thread(google_calendar.service, self._settings, creds)

        async def keep_refreshed() -> None:
            if (fresh := google_calendar.refreshed(creds, tokens)) is None:
                return  # most calls: the stored access token was still good
            async with self._db.transaction() as s:
                await google_tokens.store_refreshed(s, self._cipher, calendar.user_id, fresh)

        return service, keep_refreshed

    async def _call(self, calendar: Calendar, operation: str, call: Callable[[], T]) -> T:
        metrics.call(operation)
        try:
            return await asyncio.to_thread(call)
        except ReauthorizationRequired as exc:
            metrics.error("invalid_grant")
            async with self._db.transaction() as s:
                await google_tokens.require_reauthorization(s, calendar.user_id, str(exc))
            raise ApplicationError(str(exc), type=REAUTHORIZATION_REQUIRED, non_retryable=True) from None
        except GoogleApiError as exc:
            metrics.error(exc.reason or str(exc.status))
            raise

    async def _calendar(self, session: AsyncSession, calendar_id: uuid.UUID) -> Calendar:
        calendar = await session.get(Calendar, calendar_id)
        if calendar is None or not calendar.selected:
            raise ApplicationError(
                "the calendar is no longer chosen for sync", type=CALENDAR_GONE, non_retryable=True
            )
        return calendar

    # -- sync -----------------------------------------------------------------------------------

    @activity.defn(name="scheduling.google.sync")
    async def sync(self, request: SyncRequest) -> SyncOutcome:
        """Lists the calendar (all of it, or what changed since the sync token) page by page;
        each page's events are upserted in one transaction with the cursor to the next page, so
        an attempt after a crash resumes at the first page not stored. The next page is fetched
        and made into rows while this one is stored."""
        started = time.monotonic()
        async with self._db.transaction() as session:
            calendar = await self._calendar(session, request.calendar_id)
            calendar.sync_status = SyncStatus.SYNCING
            service, keep_refreshed = await self._service(session, calendar)
        listing = _Listing.of(calendar, request.full)
        pages = processed = 0
        async with heartbeat.heartbeating():
            fetching = asyncio.ensure_future(self._fetch(calendar, service, listing))
            try:
                while True:
                    page, rows, at = await fetching
                    if at.page_token is not None:
                        fetching = asyncio.ensure_future(self._fetch(calendar, service, listing))
                    pages, processed = pages + 1, processed + len(rows)
                    async with self._db.transaction() as session:
                        events = await self._store_page(session, calendar, rows, at, page)
                    heartbeat.progress(pages)
                    if at.page_token is None:
                        break
            finally:
                # A prefetch left behind (this attempt failed while storing): its outcome is moot.
                fetching.cancel()
                if fetching.done() and not fetching.cancelled():
                    fetching.exception()
        await keep_refreshed()
        metrics.processed(processed)
        metrics.synced("resynced" if listing.resynced else "ok", time.monotonic() - started)
        return SyncOutcome(
            mode="full" if listing.full else "incremental",
            pages=pages,
            processed=processed,
            events=events,
            resynced=listing.resynced,
        )

    async def _fetch(
        self, calendar: Calendar, service: Any, listing: "_Listing"
    ) -> tuple[dict[str, Any], list[dict[str, Any]], "_Listing"]:
        """The listing's next page, its events as rows (in a thread), and where the listing
        stands after it (a copy: the next fetch moves the listing on while this page is
        stored). A 410 starts the listing over, whole."""
        while True:
            try:
                page = await self._call(
                    calendar,
                    "events.list",
                    functools.partial(
                        google_calendar.events_page,
                        service,
                        calendar.google_calendar_id,
                        sync_token=None if listing.full else calendar.sync_token,
                        page_token=listing.page_token,
                    ),
                )
            except GoogleApiError as exc:
                if exc.status == 410 and exc.reason in FULL_SYNC_REASONS and listing.restartable():
                    listing.restart(calendar)
                    continue
                raise classified(exc) from None
            rows = await asyncio.to_thread(self._rows, calendar, page.get("items", []), listing.generation)
            listing.page_token = page.get("nextPageToken")
            return page, rows, dataclasses.replace(listing)

    def _rows(self, calendar: Calendar, items: list[dict[str, Any]], generation: int) -> list[dict[str, Any]]:
        # Keyed by id: a page that names an event twice keeps its last word.
        rows = {
            item["id"]: event_row(
                self._cipher, calendar.tenant_id, calendar.id, calendar.time_zone, google_fields(item)
            )
            | {"generation": generation}
            for item in items
        }
        return list(rows.values())

    async def _store_page(
        self,
        session: AsyncSession,
        calendar: Calendar,
        rows: list[dict[str, Any]],
        listing: "_Listing",
        page: dict[str, Any],
    ) -> int:
        """One page's rows and where the listing stands, in the caller's transaction; the last
        page also stores the sync token (and, ending a full listing, deletes what it did not
        list). Answers the calendar's events, deleted ones not counted."""
        alive = await calendar_events.upsert(session, rows)
        state: dict[str, Any] = {
            "page_token": listing.page_token,
            "listing_full": listing.full,
            "generation": listing.generation,
        }
        if listing.page_token is None:
            if listing.full:
                alive -= await self._sweep(session, calendar.id, listing.generation)
            state |= {
                "sync_token": page.get("nextSyncToken"),
                "sync_status": SyncStatus.OK,
                "last_success_at": datetime.now(UTC),
                "last_error": None,
            }
        counted = await session.execute(
            update(Calendar)
            .where(Calendar.id == calendar.id)
            .values(**state, events_count=Calendar.events_count + alive)
            .returning(Calendar.events_count)
        )
        return int(counted.scalar_one())

    @staticmethod
    async def _sweep(session: AsyncSession, calendar_id: uuid.UUID, generation: int) -> int:
        """After a full listing: what Google no longer lists at all is deleted here too.
        Answers how many events that took from the calendar."""
        swept = await session.execute(
            update(CalendarEvent)
            .where(
                CalendarEvent.calendar_id == calendar_id,
                CalendarEvent.generation < generation,
                CalendarEvent.deleted.is_(False),
            )
            .values(deleted=True, status="cancelled")
        )
        return int(swept.rowcount)  # type: ignore[attr-defined]

    # -- two-way ----------------------------------------------------------------------------------

    @activity.defn(name="scheduling.google.write")
    async def write(self, request: WriteRequest) -> Written:
        """Writes one event at Google, then stores Google's answer. An insert retried after its
        first attempt reached Google finds the event by its id (409) and stores that."""
        write = request.write
        async with self._db.transaction() as session:
            calendar = await self._calendar(session, request.calendar_id)
            service, keep_refreshed = await self._service(session, calendar)
        google_id, event_id = calendar.google_calendar_id, write.event_id
        body = write.fields.google() if write.fields else {}
        gone = {"id": event_id, "status": "cancelled"}
        try:
            if write.action == "insert":
                try:
                    item = await self._call(
                        calendar,
                        "events.insert",
                        functools.partial(
                            google_calendar.insert_event, service, google_id, body | {"id": event_id}
                        ),
                    )
                except GoogleApiError as exc:
                    if exc.status != 409:
                        raise
                    item = await self._call(
                        calendar,
                        "events.get",
                        functools.partial(google_calendar.get_event, service, google_id, event_id),
                    )
            elif write.action == "patch":
                item = await self._call(
                    calendar,
                    "events.patch",
                    functools.partial(
                        google_calendar.patch_event, service, google_id, event_id, body, write.etag
                    ),
                )
            else:
                await self._call(
                    calendar,
                    "events.delete",
                    functools.partial(google_calendar.delete_event, service, google_id, event_id, write.etag),
                )
                item = gone
        except GoogleApiError as exc:
            if write.action == "delete" and exc.status == 410:
                item = gone  # deleted already (by an attempt whose answer was lost, or by its owner)
            elif exc.status in (404, 412):
                return Written(event_id=event_id, refused=exc.status, reason=exc.message)
            else:
                raise classified(exc) from None
        await keep_refreshed()
        rows = self._rows(calendar, [item], calendar.generation)
        async with self._db.transaction() as session:
            alive = await calendar_events.upsert(session, rows)
            await session.execute(
                update(Calendar)
                .where(Calendar.id == calendar.id)
                .values(events_count=Calendar.events_count + alive)
            )
        return Written(event_id=event_id, etag=item.get("etag"), deleted=item.get("status") == "cancelled")

    # -- push channels --------------------------------------------------------------------------

    @activity.defn(name="scheduling.google.watch")
    async def watch(self, request: WatchRequest) -> Channel | None:
        """Opens the calendar's channel number `request.number` (None when this deployment has
        no webhook address). The channel's id and token are fixed by its first attempt, so a
        retry whose predecessor reached Google finds the channel instead of opening another."""
        address = self._settings.google_calendar_webhook_url
        if not address:
            return None
        channel_id = str(uuid.uuid5(request.calendar_id, f"channel-{request.number}"))
        async with self._db.transaction() as session:
            calendar = await self._calendar(session, request.calendar_id)
            await session.execute(
                insert(CalendarChannel)
                .values(
                    id=channel_id,
                    tenant_id=calendar.tenant_id,
                    calendar_id=calendar.id,
                    sealed_token=seal_text(self._cipher, calendar.id, secrets.token_urlsafe(32)),
                )
                .on_conflict_do_nothing()
            )
            row = await session.get_one(CalendarChannel, channel_id)
            token = open_text(self._cipher, calendar.id, row.sealed_token)
            service, keep_refreshed = await self._service(session, calendar)
        try:
            opened = await self._call(
                calendar,
                "events.watch",
                lambda: google_calendar.watch(
                    service, calendar.google_calendar_id, channel_id=channel_id, token=token, address=address
                ),
            )
        except GoogleApiError as exc:
            if exc.reason != "channelIdNotUnique":
                raise classified(exc) from None
            # An earlier attempt opened it; its `sync` message, if it came, told its resource id.
            async with self._db.transaction() as session:
                row = await session.get_one(CalendarChannel, channel_id)
            if row.resource_id is None or row.expires_at is None:
                raise ApplicationError(
                    f"channel {channel_id} was opened by a lost call",
                    type=CHANNEL_UNKNOWN,
                    non_retryable=True,
                ) from None
            return Channel(
                id=channel_id,
                resource_id=row.resource_id,
                created_at=row.created_at,
                expires_at=row.expires_at,
            )
        await keep_refreshed()
        expires_at = datetime.fromtimestamp(int(opened["expiration"]) / 1000, UTC)
        async with self._db.transaction() as session:
            row = await session.get_one(CalendarChannel, channel_id)
            row.resource_id, row.expires_at = opened["resourceId"], expires_at
        return Channel(
            id=channel_id, resource_id=opened["resourceId"], created_at=row.created_at, expires_at=expires_at
        )

    @activity.defn(name="scheduling.google.stop_channels")
    async def stop_channels(self, request: ChannelsStop) -> int:
        """Stops the calendar's open channels (but `keep`) at Google; from now on their
        notifications are ignored whether or not Google could be told. Answers how many."""
        async with self._db.transaction() as session:
            open_channels = (
                await session.scalars(
                    select(CalendarChannel).where(
                        CalendarChannel.calendar_id == request.calendar_id,
                        CalendarChannel.stopped_at.is_(None),
                        CalendarChannel.id != (request.keep or ""),
                    )
                )
            ).all()
            calendar = await session.get_one(Calendar, request.calendar_id)
            try:
                service, _ = await self._service(session, calendar)
            except ApplicationError:
                service = None  # no usable authorization: Google drops the channels at expiry
        for channel in open_channels:
            if service is not None and channel.resource_id is not None:
                try:
                    await self._call(
                        calendar,
                        "channels.stop",
                        lambda c=channel: google_calendar.stop_channel(
                            service, channel_id=c.id, resource_id=c.resource_id or ""
                        ),
                    )
                except GoogleApiError as exc:
                    if exc.status != 404:  # 404: expired or stopped already
                        raise classified(exc) from None
            async with self._db.transaction() as session:
                await session.execute(
                    update(CalendarChannel)
                    .where(CalendarChannel.id == channel.id)
                    .values(stopped_at=datetime.now(UTC))
                )
        return len(open_channels)


def _unless(condition: Any, otherwise: Any, then: Any) -> Any:
    return case((condition, then), else_=otherwise)
