"""events.list: full listing with page tokens, incremental listing with sync tokens.

A full listing walks the calendar's events in id order, so a page token is the last id shown
(plus the change number the listing started at, which becomes ``nextSyncToken`` on the last
page). An incremental listing walks the change log after the sync token's number. Expanded
listings (``singleEvents=true``) are computed whole and paged by offset.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams

from emulators.providers.google import event_model as em
from emulators.providers.google.calendar_store import Calendar, CalendarStore
from emulators.providers.google.errors import GoogleError
from emulators.providers.google.times import parse_rfc3339

MAX_RESULTS = 2500
DEFAULT_RESULTS = 250
# "There are several query parameters that cannot be specified together with nextSyncToken"
# (events.list, syncToken).
NOT_WITH_SYNC_TOKEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def _encode(kind: str, payload: dict[str, Any]) -> str:
    raw = json.dumps({"k": kind, **payload}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, kind: str, location: str) -> dict[str, Any]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(payload, dict) or payload.get("k") != kind:
            raise ValueError
        return payload
    except ValueError:
        raise GoogleError("invalid", f"Invalid {location} value.", location=location) from None


def sync_token(calendar: Calendar, seq: int) -> str:
    return _encode("s", {"c": calendar.id, "e": calendar.epoch, "n": seq})


def _bool(params: QueryParams, name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise GoogleError("invalid", f"Invalid value for {name}: {raw}", location=name)


class Query:
    """The parameters of one events.list call, checked."""

    def __init__(self, params: QueryParams) -> None:
        self.sync_token = params.get("syncToken")
        self.page_token = params.get("pageToken")
        raw_max = params.get("maxResults")
        try:
            self.max_results = int(raw_max) if raw_max is not None else DEFAULT_RESULTS
        except ValueError:
            raise GoogleError(
                "invalid", f"Invalid value for maxResults: {raw_max}", location="maxResults"
            ) from None
        if self.max_results < 1:
            raise GoogleError("invalid", f"Invalid value for maxResults: {raw_max}", location="maxResults")
        # "The page size can never be larger than 2500 events": larger asks get 2500.
        self.max_results = min(self.max_results, MAX_RESULTS)
        self.single = bool(_bool(params, "singleEvents"))
        show_deleted = _bool(params, "showDeleted")
        self.order_by = params.get("orderBy")
        if self.order_by not in (None, "startTime", "updated"):
            raise GoogleError("invalid", f"Invalid value for orderBy: {self.order_by}", location="orderBy")
        if self.order_by == "startTime" and not self.single:
            raise GoogleError(
                "badRequest", "The requested ordering is not available for the particular query."
            )
        if self.sync_token is not None:
            for name in NOT_WITH_SYNC_TOKEN:
                if name in params:
                    raise GoogleError(
                        "invalid",
                        f"Sync token cannot be used together with the {name} parameter.",
                        location=name,
                    )
            if show_deleted is False:
                # "it is not allowed to set showDeleted to False" with a sync token.
                raise GoogleError(
                    "invalid", "Sync token cannot be used with showDeleted=false.", location="showDeleted"
                )
        self.show_deleted = bool(show_deleted)
        self.time_min = _moment(params, "timeMin")
        self.time_max = _moment(params, "timeMax")
        if self.time_min and self.time_max and self.time_max <= self.time_min:
            raise GoogleError("timeRangeEmpty", location="timeMax")
        self.updated_min = params.get("updatedMin")
        if self.updated_min is not None:
            parse_rfc3339(self.updated_min, "updatedMin")
        self.q = (params.get("q") or "").lower() or None
        self.ical_uid = params.get("iCalUID")
        self.private = _properties(params, "privateExtendedProperty")
        self.shared = _properties(params, "sharedExtendedProperty")

    def matches(self, event: dict[str, Any]) -> bool:
        """Filters other than status and time."""
        if self.ical_uid is not None and event.get("iCalUID") != self.ical_uid:
            return False
        if self.updated_min is not None and _later(self.updated_min, event["updated"]):
            return False
        if self.q is not None and not any(
            self.q in str(event.get(k, "")).lower() for k in ("summary", "description", "location")
        ):
            return False
        props = event.get("extendedProperties") or {}
        for wanted, found in ((self.private, props.get("private")), (self.shared, props.get("shared"))):
            if wanted and not all((found or {}).get(k) == v for k, v in wanted):
                return False
        return True


def _moment(params: QueryParams, name: str) -> datetime | None:
    raw = params.get(name)
    return parse_rfc3339(raw, name) if raw is not None else None


def _later(a: str, b: str) -> bool:
    return parse_rfc3339(a, "updatedMin") > parse_rfc3339(b, "updated")


def _properties(params: QueryParams, name: str) -> list[tuple[str, str]]:
    out = []
    for raw in params.getlist(name):
        key, sep, value = raw.partition("=")
        if not sep:
            raise GoogleError("invalid", f"Invalid value for {name}: {raw}", location=name)
        out.append((key, value))
    return out


class Lister:
    def __init__(self, store: CalendarStore) -> None:
        self.store = store

    def list(self, calendar: Calendar, params: QueryParams) -> dict[str, Any]:
        query = Query(params)
        if query.sync_token is not None:
            since = self._since(calendar, query.sync_token)
            return self._incremental(calendar, query, since)
        if query.single or query.order_by == "updated":
            return self._expanded(calendar, query)
        return self._full(calendar, query)

    # -- full listing, id order -------------------------------------------------------------
    def _full(self, calendar: Calendar, query: Query) -> dict[str, Any]:
        high, after = self._page_state(query, calendar)
        order = calendar.order
        start = bisect.bisect_right(order, after) if after is not None else 0
        items: list[dict[str, Any]] = []
        position = start
        lo = query.time_min.timestamp() if query.time_min else None
        hi = query.time_max.timestamp() if query.time_max else None
        # updatedMin: "entries deleted since this time will always be included regardless of showDeleted".
        show_deleted = query.show_deleted or query.updated_min is not None
        while position < len(order) and len(items) < query.max_results:
            event = calendar.events[order[position]]
            position += 1
            # "Cancelled instances of recurring events ... will still be included if showDeleted
            # and singleEvents are both False."
            if event.get("status") == "cancelled" and not show_deleted and "recurringEventId" not in event:
                continue
            if (lo is not None or hi is not None) and not self._overlaps(calendar, event, lo, hi):
                continue
            if not query.matches(event):
                continue
            items.append(em.listed(event))
        page = self.envelope(calendar, items)
        if position < len(order):
            page["nextPageToken"] = _encode("p", {"h": high, "a": order[position - 1]})
        else:
            page["nextSyncToken"] = sync_token(calendar, high)
        return page

    def _overlaps(
        self, calendar: Calendar, event: dict[str, Any], lo: float | None, hi: float | None
    ) -> bool:
        # timeMin bounds the end (exclusive), timeMax the start (exclusive).
        if "recurrence" in event and event.get("status") != "cancelled":
            first, last = self.store.series_bounds(calendar, event)
        else:
            first, last = event["_start"], event["_end"]
        return (lo is None or last > lo) and (hi is None or first < hi)

    # -- expanded listing (singleEvents, orderBy) ------------------------------------------
    def _expanded(self, calendar: Calendar, query: Query) -> dict[str, Any]:
        high, offset = self._page_state(query, calendar)
        offset = int(offset or 0)
        rows = list(self._expanded_rows(calendar, query))
        if query.order_by == "startTime":
            rows.sort(key=lambda e: (e["_start"], e["id"]))
        elif query.order_by == "updated":
            rows.sort(key=lambda e: (e["updated"], e["id"]))
        window = rows[offset : offset + query.max_results]
        page = self.envelope(calendar, [em.listed(e) for e in window])
        if offset + query.max_results < len(rows):
            page["nextPageToken"] = _encode("p", {"h": high, "a": offset + query.max_results})
        else:
            page["nextSyncToken"] = sync_token(calendar, high)
        return page

    def _expanded_rows(self, calendar: Calendar, query: Query) -> Iterator[dict[str, Any]]:
        lo = query.time_min.timestamp() if query.time_min else None
        hi = query.time_max.timestamp() if query.time_max else None
        show_deleted = query.show_deleted or query.updated_min is not None
        for event_id in calendar.order:
            event = calendar.events[event_id]
            if query.single and "recurrence" in event:
                if event.get("status") == "cancelled":
                    continue  # never the underlying recurring event
                candidates = self.store.instances(calendar, event, query.time_min, query.time_max)
            elif (
                query.single and "recurringEventId" in event and event["recurringEventId"] in calendar.events
            ):
                continue  # shown in its series' place
            else:
                candidates = [event]
            for row in candidates:
                hidden = query.single or "recurringEventId" not in row
                if row.get("status") == "cancelled" and not show_deleted and hidden:
                    continue
                if (lo is not None and row["_end"] <= lo) or (hi is not None and row["_start"] >= hi):
                    continue
                if query.matches(row):
                    yield row

    # -- incremental listing --------------------------------------------------------------
    def _since(self, calendar: Calendar, token: str) -> int:
        payload = _decode(token, "s", "syncToken")
        if payload.get("c") != calendar.id or payload.get("n", 0) > self.store.seq:
            raise GoogleError("invalid", "Invalid syncToken value.", location="syncToken")
        if payload.get("e") != calendar.epoch:
            raise GoogleError("fullSyncRequired", location="syncToken")
        return int(payload["n"])

    def _incremental(self, calendar: Calendar, query: Query, since: int) -> dict[str, Any]:
        high, after = self._page_state(query, calendar)
        cursor = int(after) if after is not None else since
        changes = calendar.changes
        position = bisect.bisect_right(changes, (cursor, "\uffff"))
        items: list[dict[str, Any]] = []
        while position < len(changes) and len(items) < query.max_results:
            seq, event_id = changes[position]
            if seq > high:
                break
            position += 1
            event = calendar.events[event_id]
            if event["_seq"] != seq:
                continue  # changed again later: shown at its latest change
            items.extend(em.listed(row) for row in self._changed_rows(calendar, query, event))
        page = self.envelope(calendar, items)
        if position < len(changes) and changes[position][0] <= high:
            page["nextPageToken"] = _encode("p", {"h": high, "a": changes[position - 1][0]})
        else:
            page["nextSyncToken"] = sync_token(calendar, high)
        return page

    def _changed_rows(self, calendar: Calendar, query: Query, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not query.single or "recurrence" not in event:
            return [event]
        rows = self.store.instances(calendar, event)
        if event.get("status") == "cancelled":
            return [{**row, "status": "cancelled", "etag": event["etag"]} for row in rows]
        return rows

    # -- shared ---------------------------------------------------------------------------
    def _page_state(self, query: Query, calendar: Calendar) -> tuple[int, Any]:
        if query.page_token is None:
            return self.store.seq, None
        payload = _decode(query.page_token, "p", "pageToken")
        return int(payload["h"]), payload.get("a")

    @staticmethod
    def envelope(calendar: Calendar, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "kind": "calendar#events",
            "etag": f'"{calendar.epoch}-{len(calendar.changes)}"',
            "summary": calendar.summary,
            "description": "",
            "updated": calendar.updated,
            "timeZone": calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": [],
            "items": items,
        }
