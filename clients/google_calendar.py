"""Google Calendar through the official client: google-api-python-client with google-auth
credentials, the service built from the packaged discovery document at
GOOGLE_CALENDAR_API_ENDPOINT (the real API: https://www.googleapis.com/calendar/v3/; the
emulator: <emulator>/google). The client is synchronous: callers run these in a thread.

google-auth refreshes an expired access token with the refresh token by itself, and once more
when a call answers 401; a refresh token Google refuses (`invalid_grant`: revoked, expired)
raises `ReauthorizationRequired`. Every other refusal is a `GoogleApiError` carrying what
callers decide by: the status code and Google's reason (`error.errors[0].reason`), never the
message text.
"""

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from core.settings import Settings
from domain.scheduling.oauth import SCOPES, GoogleTokens

# events.list's largest page.
PAGE_SIZE = 2500
# How long a call may take before the attempt is abandoned (httplib2 waits forever otherwise).
CALL_TIMEOUT_SECONDS = 60


class ReauthorizationRequired(Exception):
    """Google no longer accepts the user's refresh token: the user must connect again."""


@dataclass
class GoogleApiError(Exception):
    status: int
    reason: str
    message: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"Google answered {self.status} {self.reason}: {self.message}"


def _api_error(exc: HttpError) -> GoogleApiError:
    reason, message = "", str(exc.reason or "")
    try:
        error = json.loads(exc.content)["error"]
        message = str(error.get("message", message))
        reason = str((error.get("errors") or [{}])[0].get("reason", "")) or str(error.get("status", ""))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        pass
    retry_after: float | None = None
    with contextlib.suppress(TypeError, ValueError):
        retry_after = float(exc.resp.get("retry-after"))
    return GoogleApiError(int(exc.resp.status), reason, message[:300], retry_after)


def credentials(settings: Settings, tokens: GoogleTokens) -> Credentials:
    return Credentials(
        token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_uri=settings.google_oauth_token_uri,
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret.get_secret_value(),
        scopes=list(SCOPES),
        # Naive UTC, as google-auth compares it.
        expiry=tokens.expires_at.replace(tzinfo=None) if tokens.expires_at else None,
    )


def refreshed(creds: Credentials, before: GoogleTokens) -> GoogleTokens | None:
    """The tokens to store if google-auth refreshed the access token meanwhile, else None."""
    if creds.token == before.access_token:
        return None
    return GoogleTokens(refresh_token=before.refresh_token, access_token=creds.token, expires_at=creds.expiry)


def service(settings: Settings, creds: Credentials) -> Any:
    """A Calendar service for one user; not thread-safe: one thread at a time uses it."""
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=CALL_TIMEOUT_SECONDS))
    return build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.google_calendar_api_endpoint},
    )


def _execute(request: Any) -> Any:
    try:
        return request.execute()
    except RefreshError as exc:
        details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        if details.get("error") == "invalid_grant":
            raise ReauthorizationRequired(str(details.get("error_description") or "invalid_grant")) from None
        raise GoogleApiError(503, "tokenRefreshFailed", str(exc)[:300]) from None
    except HttpError as exc:
        raise _api_error(exc) from None


def events_page(service: Any, calendar_id: str, *, sync_token: str | None, page_token: str | None) -> Any:
    """One page of events.list: the whole calendar (deleted events included) or, with a sync
    token, what changed since it. Recurring series come as their master and exceptions."""
    return _execute(
        service.events().list(
            calendarId=calendar_id,
            maxResults=PAGE_SIZE,
            showDeleted=True,
            syncToken=sync_token,
            pageToken=page_token,
        )
    )


def watch(service: Any, calendar_id: str, *, channel_id: str, token: str, address: str) -> Any:
    """A push channel on the calendar's events: Google POSTs to `address` on every change, until
    the `expiration` it answers (Google's longest, 7 days for Calendar, unless it chooses less)."""
    body = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
    return _execute(service.events().watch(calendarId=calendar_id, body=body))


def stop_channel(service: Any, *, channel_id: str, resource_id: str) -> None:
    _execute(service.channels().stop(body={"id": channel_id, "resourceId": resource_id}))


def list_calendars(settings: Settings, creds: Credentials) -> list[dict[str, Any]]:
    """Every entry of the user's calendar list (all pages)."""
    calendars = service(settings, creds)
    entries: list[dict[str, Any]] = []
    page_token: str | None = None
    while True:
        page = _execute(calendars.calendarList().list(pageToken=page_token, maxResults=250))
        entries.extend(page.get("items", []))
        page_token = page.get("nextPageToken")
        if not page_token:
            return entries


def insert_event(service: Any, calendar_id: str, body: dict[str, Any]) -> Any:
    return _execute(service.events().insert(calendarId=calendar_id, body=body))


def get_event(service: Any, calendar_id: str, event_id: str) -> Any:
    return _execute(service.events().get(calendarId=calendar_id, eventId=event_id))


def patch_event(service: Any, calendar_id: str, event_id: str, body: dict[str, Any], etag: str | None) -> Any:
    request = service.events().patch(calendarId=calendar_id, eventId=event_id, body=body)
    if etag:
        request.headers["If-Match"] = etag
    return _execute(request)


def delete_event(service: Any, calendar_id: str, event_id: str, etag: str | None) -> None:
    request = service.events().delete(calendarId=calendar_id, eventId=event_id)
    if etag:
        request.headers["If-Match"] = etag
    _execute(request)
