"""Calendar API v3 over REST, at the paths the official client requests.

``googleapiclient.discovery.build("calendar", "v3", client_options={"api_endpoint": E})`` uses
``E`` in place of rootUrl + servicePath ("https://www.googleapis.com/calendar/v3/") and appends
the method paths (``calendars/{calendarId}/events``, ``freeBusy``, ``channels/stop`` ...): with
GOOGLE_CALENDAR_API_ENDPOINT=<emulator>/google they arrive at ``/google/calendars/...``. The same
routes are also served under ``/google/calendar/v3`` (the real API's own layout).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from emulators.providers.google import event_model as em
from emulators.providers.google.calendar_store import Calendar, CalendarStore
from emulators.providers.google.channels import Channels
from emulators.providers.google.errors import GoogleError
from emulators.providers.google.listing import Lister
from emulators.providers.google.oauth import AccessToken, OAuthState
from emulators.providers.google.times import parse_rfc3339, rfc3339, zone

SCOPE = "https://www.googleapis.com/auth/"
READ = {
    f"{SCOPE}{s}" for s in ("calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly")
}
WRITE = {f"{SCOPE}{s}" for s in ("calendar", "calendar.events")}
LIST_CALENDARS = {
    f"{SCOPE}{s}"
    for s in ("calendar", "calendar.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly")
}
FREEBUSY = READ | {f"{SCOPE}{s}" for s in ("calendar.freebusy", "calendar.events.freebusy")}
# freeBusy: documented limits on the number of calendars in one query.
CALENDAR_EXPANSION_MAX = 50

Handler = Callable[[Request, AccessToken], Awaitable[Response]]


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return await request.json()
    except ValueError:
        raise GoogleError("parseError", "Parse Error", status=400) from None


class CalendarApi:
    def __init__(self, oauth: OAuthState, store: CalendarStore, channels: Channels) -> None:
        self.oauth = oauth
        self.store = store
        self.channels = channels
        self.lister = Lister(store)

    def routes(self) -> list[BaseRoute]:
        c = "/calendars/{calendarId}"
        e = f"{c}/events/{{eventId}}"
        routes: list[BaseRoute] = [
            Route("/users/me/calendarList", self._call(self.calendar_list, LIST_CALENDARS), methods=["GET"]),
            Route(
                "/users/me/calendarList/{calendarId}",
                self._call(self.calendar_list_entry, LIST_CALENDARS),
                methods=["GET"],
            ),
            Route(c, self._call(self.calendar_get, READ), methods=["GET"]),
            Route(f"{c}/events", self._call(self.events_list, READ), methods=["GET"]),
            Route(f"{c}/events", self._call(self.events_insert, WRITE), methods=["POST"]),
            Route(f"{c}/events/watch", self._call(self.events_watch, READ), methods=["POST"]),
            Route(e, self._call(self.events_get, READ), methods=["GET"]),
            Route(e, self._call(self.events_update, WRITE), methods=["PUT"]),
            Route(e, self._call(self.events_patch, WRITE), methods=["PATCH"]),
            Route(e, self._call(self.events_delete, WRITE), methods=["DELETE"]),
            Route(f"{e}/instances", self._call(self.events_instances, READ), methods=["GET"]),
            Route("/freeBusy", self._call(self.freebusy, FREEBUSY), methods=["POST"]),
            Route("/channels/stop", self._call(self.channels_stop, None), methods=["POST"]),
        ]
        return [*routes, Mount("/calendar/v3", routes=routes)]

    def _call(self, handler: Handler, scopes: set[str] | None) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                token = self.oauth.authorize(request)
                if scopes is not None and not scopes.intersection(token.scopes):
                    raise GoogleError(
                        "insufficientPermissions", "Request had insufficient authentication scopes."
                    )
                return await handler(request, token)
            except GoogleError as exc:
                return exc.response()

        return endpoint

    def _calendar(self, request: Request, token: AccessToken) -> Calendar:
        return self.store.calendar_for(token.user, request.path_params["calendarId"])

    # -- calendar list ------------------------------------------------------------------------
    def _entry(self, calendar: Calendar) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{calendar.epoch}{len(calendar.id)}"',
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": "owner",
            "defaultReminders": [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if calendar.primary:
            entry["primary"] = True
        return entry

    async def calendar_list(self, request: Request, token: AccessToken) -> Response:
        entries = [self._entry(self.store.calendars[c]) for c in self.store.users[token.user].calendars]
        return JSONResponse(
            {
                "kind": "calendar#calendarList",
                "etag": f'"{len(entries)}"',
                "nextSyncToken": "emu",
                "items": entries,
            }
        )

    async def calendar_list_entry(self, request: Request, token: AccessToken) -> Response:
        return JSONResponse(self._entry(self._calendar(request, token)))

    async def calendar_get(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        return JSONResponse(
            {
                "kind": "calendar#calendar",
                "etag": f'"{calendar.epoch}"',
                "id": calendar.id,
                "summary": calendar.summary,
                "timeZone": calendar.time_zone,
            }
        )

    # -- events ---------------------------------------------------------------------------
    async def events_list(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        return JSONResponse(self.lister.list(calendar, request.query_params))

    async def events_insert(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        body = await _body(request)
        if not isinstance(body, dict):
            raise GoogleError("invalid", "Invalid value for resource.")
        return JSONResponse(em.public(self.store.insert(calendar, body)))

    async def events_get(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        event = self.store.get(calendar, request.path_params["eventId"])
        if request.headers.get("if-none-match") == event["etag"]:
            return Response(status_code=304)
        return JSONResponse(em.public(event))

    async def _write(self, request: Request, token: AccessToken, patch: bool) -> Response:
        calendar = self._calendar(request, token)
        body = await _body(request)
        if not isinstance(body, dict):
            raise GoogleError("invalid", "Invalid value for resource.")
        event = self.store.update(
            calendar,
            request.path_params["eventId"],
            body,
            patch=patch,
            if_match=request.headers.get("if-match"),
        )
        return JSONResponse(em.public(event))

    async def events_update(self, request: Request, token: AccessToken) -> Response:
        return await self._write(request, token, patch=False)

    async def events_patch(self, request: Request, token: AccessToken) -> Response:
        return await self._write(request, token, patch=True)

    async def events_delete(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        self.store.delete(calendar, request.path_params["eventId"], if_match=request.headers.get("if-match"))
        return Response(status_code=204)

    async def events_instances(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        master = self.store.get(calendar, request.path_params["eventId"])
        if "recurrence" not in master:
            raise GoogleError("notFound")
        rows = [em.listed(e) for e in self.store.instances(calendar, master)]
        page = self.lister.envelope(calendar, rows)
        return JSONResponse(page)

    async def events_watch(self, request: Request, token: AccessToken) -> Response:
        calendar = self._calendar(request, token)
        uri = f"https://www.googleapis.com/calendar/v3/calendars/{calendar.id}/events?alt=json"
        channel = self.channels.watch(token.user, calendar.id, uri, await _body(request))
        return JSONResponse(channel.resource())

    async def channels_stop(self, request: Request, token: AccessToken) -> Response:
        self.channels.stop(await _body(request))
        return Response(status_code=204)

    # -- free/busy ------------------------------------------------------------------------
    async def freebusy(self, request: Request, token: AccessToken) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise GoogleError("invalid", "Invalid value for resource.")
        for name in ("timeMin", "timeMax"):
            if not body.get(name):
                raise GoogleError("required", "Required", location=name)
        time_min = parse_rfc3339(str(body["timeMin"]), "timeMin")
        time_max = parse_rfc3339(str(body["timeMax"]), "timeMax")
        if time_max <= time_min:
            raise GoogleError("timeRangeEmpty", location="timeMax")
        tz = zone(body.get("timeZone")) or UTC
        items = body.get("items") or []
        if len(items) > CALENDAR_EXPANSION_MAX:
            raise GoogleError("invalid", "Too many calendars requested.", location="items")
        calendars: dict[str, Any] = {}
        for item in items:
            calendar_id = str((item or {}).get("id", ""))
            try:
                calendar = self.store.calendar_for(token.user, calendar_id)
            except GoogleError:
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            busy = self._busy(calendar, time_min.timestamp(), time_max.timestamp())
            calendars[calendar_id] = {
                "busy": [
                    {
                        "start": _local(start, tz),
                        "end": _local(end, tz),
                    }
                    for start, end in busy
                ]
            }
        return JSONResponse(
            {
                "kind": "calendar#freeBusy",
                "timeMin": rfc3339(time_min),
                "timeMax": rfc3339(time_max),
                "calendars": calendars,
            }
        )

    def _busy(self, calendar: Calendar, lo: float, hi: float) -> list[tuple[float, float]]:
        """Merged busy intervals: opaque, not cancelled events and instances, clipped to the range."""
        window = (datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC))
        spans = []
        for event in calendar.events.values():
            if event.get("status") == "cancelled" or event.get("transparency") == "transparent":
                continue
            if "recurringEventId" in event and event["recurringEventId"] in calendar.events:
                continue  # counted with its series
            rows = (
                self.store.instances(calendar, event, window[0] - timedelta(days=1), window[1])
                if "recurrence" in event
                else [event]
            )
            for row in rows:
                if row.get("status") == "cancelled" or row.get("transparency") == "transparent":
                    continue
                start, end = max(row["_start"], lo), min(row["_end"], hi)
                if start < end:
                    spans.append((start, end))
        spans.sort()
        merged: list[tuple[float, float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


def _local(timestamp: float, tz: Any) -> str:
    moment = datetime.fromtimestamp(timestamp, tz)
    return rfc3339(moment) if tz is UTC else moment.isoformat()
