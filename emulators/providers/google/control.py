"""Google control endpoints, mounted under ``/_control/google``: users, calendars, OAuth clients,
changes made "as another client", sync-token expiry, token revocation, scripted errors, counts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.control import ControlError, read_model
from emulators.faults import FaultSpecError
from emulators.providers.google import event_model as em
from emulators.providers.google.errors import REASONS, GoogleError, reason_body
from emulators.providers.google.operations import OPERATIONS

if TYPE_CHECKING:
    from emulators.providers.google import GoogleProvider

# The errors a test scripts for an operation: quota and rate limits, server errors, expired sync.
INJECTABLE = (
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
    "backendError",
    "fullSyncRequired",
    "updatedMinTooLongAgo",
    "authError",
)


class UserIn(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None
    time_zone: str = "UTC"


class CalendarIn(BaseModel):
    id: str | None = None
    summary: str
    time_zone: str = "UTC"


class ClientIn(BaseModel):
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    redirect_uris: list[str] = Field(default_factory=list)
    access_token_ttl: float = Field(3599, gt=0)


class BulkIn(BaseModel):
    count: int = Field(ge=1, le=200_000)
    start: datetime | None = None  # first event's start; default: today 00:00 UTC
    spacing_minutes: int = Field(60, ge=1)
    duration_minutes: int = Field(30, ge=1)
    id_prefix: str | None = Field(None, pattern=r"^[a-v0-9]*$")
    summary: str = "Event"


class ErrorIn(BaseModel):
    operation: str
    reason: str
    count: int = Field(1, ge=1)
    status: int | None = None  # 429 for the rate-limit reasons answered with 429
    retry_after: float | None = Field(None, ge=0)


class SettingsIn(BaseModel):
    channel_max_ttl: float | None = Field(None, gt=0)


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def control_routes(provider: GoogleProvider) -> list[Route]:
    store, oauth, channels = provider.store, provider.oauth, provider.channels

    def handled(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ControlError as exc:
                return JSONResponse({"error": exc.detail}, status_code=400)
            except GoogleError as exc:
                return exc.response()

        return endpoint

    def calendar(request: Request) -> Any:
        found = store.calendars.get(request.path_params["calendar_id"])
        if found is None:
            raise GoogleError("notFound", "unknown calendar")
        return found

    def user_json(email: str) -> dict[str, Any]:
        user = store.users[email]
        return {
            "email": user.email,
            "name": user.name,
            "calendars": [store.calendars[c].meta() for c in user.calendars],
        }

    async def create_user(request: Request) -> Response:
        body = await read_model(request, UserIn)
        user = store.create_user(body.email, body.name, body.time_zone)
        return JSONResponse(user_json(user.email))

    async def list_users(request: Request) -> Response:
        return JSONResponse({"users": [user_json(u) for u in store.users]})

    async def create_calendar(request: Request) -> Response:
        email = request.path_params["email"]
        if email not in store.users:
            return _error("unknown user", 404)
        body = await read_model(request, CalendarIn)
        calendar_id = body.id or f"c_{em.new_event_id()}@group.calendar.google.com"
        created = store.create_calendar(email, calendar_id, body.summary, body.time_zone)
        return JSONResponse(created.meta())

    async def register_client(request: Request) -> Response:
        body = await read_model(request, ClientIn)
        client = oauth.register_client(
            body.client_id, body.client_secret, body.redirect_uris, body.access_token_ttl
        )
        return JSONResponse(
            {
                "client_id": client.client_id,
                "redirect_uris": client.redirect_uris,
                "access_token_ttl": client.access_token_ttl,
            }
        )

    async def revoke(request: Request) -> Response:
        return JSONResponse({"revoked": oauth.revoke_user(request.path_params["email"])})

    async def expire_access(request: Request) -> Response:
        return JSONResponse({"expired": oauth.expire_access_tokens(request.path_params["email"])})

    async def dump_events(request: Request) -> Response:
        found = calendar(request)
        return JSONResponse(
            {"calendar": found.meta(), "events": [em.public(found.events[i]) for i in found.order]}
        )

    async def create_event(request: Request) -> Response:
        body = await request.json()
        return JSONResponse(em.public(store.insert(calendar(request), body)))

    async def bulk(request: Request) -> Response:
        body = await read_model(request, BulkIn)
        found = calendar(request)
        first = body.start or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if first.tzinfo is None:
            first = first.replace(tzinfo=UTC)
        started = time.perf_counter()
        bodies = []
        for n in range(body.count):
            begins = first + timedelta(minutes=n * body.spacing_minutes)
            event: dict[str, Any] = {
                "summary": f"{body.summary} {n}",
                "start": {"dateTime": begins.isoformat(), "timeZone": "UTC"},
                "end": {
                    "dateTime": (begins + timedelta(minutes=body.duration_minutes)).isoformat(),
                    "timeZone": "UTC",
                },
            }
            if body.id_prefix is not None:
                event["id"] = f"{body.id_prefix}{n:08d}"
            bodies.append(event)
        created = store.bulk_insert(found, bodies)
        return JSONResponse({"created": created, "seconds": round(time.perf_counter() - started, 3)})

    async def change_event(request: Request) -> Response:
        found = calendar(request)
        event_id = request.path_params["event_id"]
        if request.method == "DELETE":
            store.delete(found, event_id)
            return Response(status_code=204)
        body = await request.json()
        event = store.update(found, event_id, body, patch=request.method == "PATCH")
        return JSONResponse(em.public(event))

    async def expire_sync(request: Request) -> Response:
        found = calendar(request)
        store.expire_sync_tokens(found)
        return JSONResponse({"calendar_id": found.id, "epoch": found.epoch})

    async def inject(request: Request) -> Response:
        body = await read_model(request, ErrorIn)
        if body.operation not in OPERATIONS:
            return _error(f"unknown operation {body.operation!r}; known: {sorted(OPERATIONS)}")
        if body.reason not in INJECTABLE or body.reason not in REASONS:
            return _error(f"reason must be one of {list(INJECTABLE)}")
        status, error = reason_body(body.reason, body.status)
        method, path = OPERATIONS[body.operation]
        assert provider.hub is not None
        try:
            fault = provider.hub.faults.add(
                {
                    "provider": provider.name,
                    "method": method,
                    "path": path,
                    "status": status,
                    "body": error,
                    "count": body.count,
                    "retry_after": body.retry_after,
                },
                set(provider.hub.providers),
            )
        except FaultSpecError as exc:
            return _error(str(exc))
        return JSONResponse(fault.to_json(), status_code=201)

    async def stats(request: Request) -> Response:
        return JSONResponse({"calls": provider.calls.to_json()})

    async def list_channels(request: Request) -> Response:
        return JSONResponse(
            {
                "channels": [
                    {
                        **c.resource(),
                        "calendarId": c.calendar_id,
                        "address": c.address,
                        "stopped": c.stopped,
                        "active": c.active(),
                        "messages": c.messages,
                    }
                    for c in channels.channels.values()
                ]
            }
        )

    async def notifications(request: Request) -> Response:
        await channels.drain()
        return JSONResponse({"notifications": channels.deliveries})

    async def settings(request: Request) -> Response:
        body = await read_model(request, SettingsIn)
        if body.channel_max_ttl is not None:
            channels.max_ttl = body.channel_max_ttl
        return JSONResponse({"channel_max_ttl": channels.max_ttl})

    routes = [
        ("/users", create_user, "POST"),
        ("/users", list_users, "GET"),
        ("/users/{email}/calendars", create_calendar, "POST"),
        ("/users/{email}/revoke", revoke, "POST"),
        ("/users/{email}/expire-access-tokens", expire_access, "POST"),
        ("/clients", register_client, "POST"),
        ("/calendars/{calendar_id}/events", dump_events, "GET"),
        ("/calendars/{calendar_id}/events", create_event, "POST"),
        ("/calendars/{calendar_id}/events/bulk", bulk, "POST"),
        ("/calendars/{calendar_id}/events/{event_id}", change_event, "PATCH"),
        ("/calendars/{calendar_id}/events/{event_id}", change_event, "PUT"),
        ("/calendars/{calendar_id}/events/{event_id}", change_event, "DELETE"),
        ("/calendars/{calendar_id}/expire-sync-tokens", expire_sync, "POST"),
        ("/errors", inject, "POST"),
        ("/stats", stats, "GET"),
        ("/channels", list_channels, "GET"),
        ("/notifications", notifications, "GET"),
        ("/settings", settings, "POST"),
    ]
    return [Route(path, handled(handler), methods=[method]) for path, handler, method in routes]
