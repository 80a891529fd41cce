"""Users, their calendars and the calendars' events, with a change sequence for sync tokens.

Every change to an event takes the next number of one global sequence and is appended to its
calendar's change log; a sync token is a position in that log, so an incremental list is the
log after it. Events stay in memory in id order (paging) and are written through to the
optional :class:`Persistence`.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from emulators.providers.google import event_model as em
from emulators.providers.google.errors import GoogleError
from emulators.providers.google.persistence import Persistence
from emulators.providers.google.times import (
    MAX_INSTANCES,
    instance_suffix,
    occurrences,
    parse_when,
    rfc3339,
    zone,
)


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    time_zone: str
    primary: bool = False
    epoch: int = 0  # bumped when the control API expires sync tokens: older tokens get 410
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # event ids, sorted
    changes: list[tuple[int, str]] = field(default_factory=list)  # (seq, event id), seq ascending
    exceptions: dict[str, set[str]] = field(default_factory=dict)  # series id -> its exceptions' ids
    updated: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def put(self, event: dict[str, Any]) -> None:
        self.events[event["id"]] = event
        self.changes.append((event["_seq"], event["id"]))
        if "recurringEventId" in event:
            self.exceptions.setdefault(event["recurringEventId"], set()).add(event["id"])

    def meta(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "summary": self.summary,
            "time_zone": self.time_zone,
            "primary": self.primary,
            "epoch": self.epoch,
        }


@dataclass
class User:
    email: str
    name: str
    calendars: list[str] = field(default_factory=list)


class CalendarStore:
    def __init__(self, db: Persistence | None = None) -> None:
        self.db = db
        self.users: dict[str, User] = {}
        self.calendars: dict[str, Calendar] = {}
        self.seq = 0
        # Called with a calendar id after its events changed (push channels listen here).
        self.on_change: Callable[[str], None] = lambda calendar_id: None
        if db is not None:
            self._load(db)

    # -- persistence -----------------------------------------------------------------------
    def _load(self, db: Persistence) -> None:
        for _, body in db.records("user"):
            self.users[body["email"]] = User(body["email"], body["name"], body["calendars"])
        for _, meta in db.records("calendar"):
            self.calendars[meta["id"]] = Calendar(
                meta["id"], meta["owner"], meta["summary"], meta["time_zone"], meta["primary"], meta["epoch"]
            )
        for _, body in db.records("meta"):
            self.seq = max(self.seq, body.get("seq", 0))
        for calendar_id, event in db.events():  # ascending seq
            calendar = self.calendars[calendar_id]
            calendar.put(event)
            calendar.updated = event["updated"]
            self.seq = max(self.seq, event["_seq"])
        for calendar in self.calendars.values():
            calendar.order = sorted(calendar.events)

    def _save_user(self, user: User) -> None:
        if self.db is not None:
            self.db.put(
                "user", user.email, {"email": user.email, "name": user.name, "calendars": user.calendars}
            )

    def _save_calendar(self, calendar: Calendar) -> None:
        if self.db is not None:
            self.db.put("calendar", calendar.id, calendar.meta())

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def reset(self) -> None:
        self.users.clear()
        self.calendars.clear()
        self.seq = 0
        if self.db is not None:
            self.db.clear()

    # -- users and calendars ----------------------------------------------------------------
    def create_user(self, email: str, name: str | None = None, time_zone: str = "UTC") -> User:
        """Idempotent: a user with a primary calendar whose id is the email address."""
        zone(time_zone)
        user = self.users.get(email)
        if user is None:
            user = User(email, name or email.split("@")[0])
            self.users[email] = user
            self.create_calendar(email, email, summary=email, time_zone=time_zone, primary=True)
        return user

    def create_calendar(
        self,
        owner: str,
        calendar_id: str,
        summary: str,
        time_zone: str = "UTC",
        primary: bool = False,
    ) -> Calendar:
        zone(time_zone)
        user = self.users[owner]
        calendar = self.calendars.get(calendar_id)
        if calendar is None:
            calendar = Calendar(calendar_id, owner, summary, time_zone, primary, updated=rfc3339(_now()))
            self.calendars[calendar_id] = calendar
            user.calendars.append(calendar_id)
            self._save_calendar(calendar)
            self._save_user(user)
        return calendar

    def calendar_for(self, user: str, calendar_id: str) -> Calendar:
        """The calendar ``user`` asks for ("primary" = theirs); 404 for one they cannot see."""
        if calendar_id == "primary":
            calendar_id = user
        calendar = self.calendars.get(calendar_id)
        if calendar is None or calendar_id not in self.users[user].calendars:
            raise GoogleError("notFound")
        return calendar

    def expire_sync_tokens(self, calendar: Calendar) -> None:
        calendar.epoch += 1
        self._save_calendar(calendar)

    # -- events ---------------------------------------------------------------------------
    def _write(self, calendar: Calendar, events: list[dict[str, Any]], notify: bool = True) -> None:
        """Record changed events: a new seq each, the change log, the id order, the file."""
        now = _now()
        new_ids = [e["id"] for e in events if e["id"] not in calendar.events]
        for event in events:
            em.stamp(event, self._next_seq(), now)
            calendar.put(event)
        if len(new_ids) > 1:
            # One sort instead of an insort each: 100 000 events are created in about 2 s.
            calendar.order = sorted(calendar.events)
        elif new_ids:
            bisect.insort(calendar.order, new_ids[0])
        calendar.updated = rfc3339(now)
        if self.db is not None:
            self.db.put_events(calendar.id, events)
            self.db.put("meta", "seq", {"seq": self.seq})
        if notify and events:
            self.on_change(calendar.id)

    def _build(
        self, calendar: Calendar, body: dict[str, Any], event_id: str, created: str | None = None
    ) -> dict[str, Any]:
        start, end = em.validate(body, calendar.tz)
        event = {k: copy.deepcopy(v) for k, v in body.items() if k not in em.SERVER_FIELDS and k[0] != "_"}
        owner = {"email": calendar.owner, "self": True}
        now = rfc3339(_now())
        event.update(
            {
                "kind": "calendar#event",
                "id": event_id,
                "status": body.get("status", "confirmed"),
                "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
                "created": created or now,
                "creator": owner,
                "organizer": owner,
                "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
                "sequence": int(body.get("sequence", 0) or 0),
                "reminders": body.get("reminders") or {"useDefault": True},
                "eventType": body.get("eventType", "default"),
            }
        )
        # Google answers every dateTime with its offset, however it was written.
        for side, when in (("start", start), ("end", end)):
            if when.moment is not None:
                event[side] = {**event[side], "dateTime": when.moment.isoformat()}
        event["_start"], event["_end"] = em.bounds(start, end, calendar.tz)
        return event

    def insert(self, calendar: Calendar, body: dict[str, Any], notify: bool = True) -> dict[str, Any]:
        event_id = em.check_event_id(body["id"]) if body.get("id") else em.new_event_id()
        # Deleted events keep their id: inserting it again is a duplicate too.
        if event_id in calendar.events:
            raise GoogleError("duplicate")
        event = self._build(calendar, body, event_id)
        self._write(calendar, [event], notify)
        return event

    def bulk_insert(self, calendar: Calendar, bodies: list[dict[str, Any]]) -> int:
        events = []
        for body in bodies:
            event_id = em.check_event_id(body["id"]) if body.get("id") else em.new_event_id()
            if event_id in calendar.events:
                raise GoogleError("duplicate", f"The requested identifier already exists: {event_id}")
            events.append(self._build(calendar, body, event_id))
        ids = [e["id"] for e in events]
        if len(set(ids)) != len(ids):
            raise GoogleError("duplicate")
        self._write(calendar, events)
        return len(events)

    def get(self, calendar: Calendar, event_id: str) -> dict[str, Any]:
        event = calendar.events.get(event_id)
        if event is None:
            instance = self._instance(calendar, event_id)
            if instance is None:
                raise GoogleError("notFound")
            return instance
        return event

    def update(
        self,
        calendar: Calendar,
        event_id: str,
        body: dict[str, Any],
        *,
        patch: bool,
        if_match: str | None = None,
        notify: bool = True,
    ) -> dict[str, Any]:
        current = self.get(calendar, event_id)
        _check_etag(current, if_match)
        merged = {**em.public(current), **body} if patch else {**body}
        if not patch:
            # update replaces the resource; what identifies an instance stays.
            for key in ("recurringEventId", "originalStartTime"):
                if key in current:
                    merged[key] = current[key]
        changed_time = merged.get("start") != current.get("start") or merged.get("end") != current.get("end")
        merged["sequence"] = int(current.get("sequence", 0)) + (1 if changed_time else 0)
        event = self._build(calendar, merged, current["id"], created=current.get("created"))
        self._write(calendar, [event], notify)
        return event

    def delete(
        self, calendar: Calendar, event_id: str, if_match: str | None = None, notify: bool = True
    ) -> None:
        current = self.get(calendar, event_id)
        _check_etag(current, if_match)
        if current.get("status") == "cancelled":
            raise GoogleError("deleted")
        changed = [{**current, "status": "cancelled"}]
        if "recurrence" in current:
            # Deleting a series cancels its exceptions with it.
            exceptions = (calendar.events[i] for i in sorted(calendar.exceptions.get(event_id, ())))
            changed += [{**e, "status": "cancelled"} for e in exceptions if e.get("status") != "cancelled"]
        self._write(calendar, changed, notify)

    # -- recurring events -----------------------------------------------------------------
    def _instance(self, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
        """An unmodified instance of a recurring event, addressed by its instance id."""
        match = em.INSTANCE_ID.match(event_id)
        if match is None:
            return None
        master = calendar.events.get(match["master"])
        if master is None or "recurrence" not in master:
            return None
        for instance in self.instances(calendar, master):
            if instance["id"] == event_id:
                return instance
        return None

    def instances(
        self,
        calendar: Calendar,
        master: dict[str, Any],
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        exceptions: dict[str, dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """The series' instances in order, exceptions (edited or cancelled) in their place."""
        start = parse_when(master["start"], "start")
        end = parse_when(master["end"], "end")
        tz = calendar.tz
        duration = end.utc(tz) - start.utc(tz)
        if exceptions is None:
            exceptions = {i: calendar.events[i] for i in calendar.exceptions.get(master["id"], ())}
        tz_name = master["start"].get("timeZone")
        out = []
        for moment in occurrences(master.get("recurrence", []), start, tz, window_start, window_end):
            instance_id = f"{master['id']}_{instance_suffix(moment)}"
            exception = exceptions.get(instance_id)
            if exception is not None:
                out.append(exception)
                continue
            instance = {k: v for k, v in master.items() if k != "recurrence"}
            original = em.time_field(moment, tz_name)
            if isinstance(moment, datetime):
                ends: Any = moment + duration
                instance["_start"] = moment.timestamp()
            else:
                ends = moment + timedelta(days=duration.days)
                instance["_start"] = datetime(moment.year, moment.month, moment.day, tzinfo=tz).timestamp()
            instance["_end"] = instance["_start"] + duration.total_seconds()
            instance.update(
                {
                    "id": instance_id,
                    "recurringEventId": master["id"],
                    "originalStartTime": original,
                    "start": original,
                    "end": em.time_field(ends, master["end"].get("timeZone")),
                }
            )
            out.append(instance)
        return out

    def series_bounds(self, calendar: Calendar, master: dict[str, Any]) -> tuple[float, float]:
        """First start and last end of a series (inf when it has no end)."""
        moments = self.instances(calendar, master, exceptions={})
        if not moments:
            return master["_start"], master["_end"]
        last = moments[-1]["_end"] if len(moments) < MAX_INSTANCES else float("inf")
        return moments[0]["_start"], last


def _check_etag(event: dict[str, Any], if_match: str | None) -> None:
    if if_match and if_match != "*" and if_match != event.get("etag"):
        raise GoogleError("conditionNotMet", location="If-Match", location_type="header")


def _now() -> datetime:
    return datetime.now(UTC)
