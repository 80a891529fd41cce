"""Google Calendar through the official client: google-api-python-client with google-auth
credentials, the service built from the packaged discovery document at
GOOGLE_CALENDAR_API_ENDPOINT (the real API: https://www.googleapis.com/calendar/v3/; the
emulator: <emulator>/google). The client is synchronous: callers run these in a thread.

google-auth refreshes an expired access token with the refresh token by itself; a refresh
token Google refuses (`invalid_grant`: revoked, expired) raises `ReauthorizationRequired`.
"""

from typing import Any

from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from core.settings import Settings
from domain.scheduling.oauth import SCOPES, GoogleTokens


class ReauthorizationRequired(Exception):
    """Google no longer accepts the user's refresh token: the user must connect again."""


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


def _service(settings: Settings, creds: Credentials) -> Any:
    return build(
        "calendar",
        "v3",
        credentials=creds,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": settings.google_calendar_api_endpoint},
    )


def _execute(request: Any) -> dict[str, Any]:
    try:
        return request.execute()
    except RefreshError as exc:
        raise ReauthorizationRequired(str(exc)) from None


def list_calendars(settings: Settings, creds: Credentials) -> list[dict[str, Any]]:
    """Every entry of the user's calendar list (all pages)."""
    service = _service(settings, creds)
    entries: list[dict[str, Any]] = []
    page_token: str | None = None
    while True:
        page = _execute(service.calendarList().list(pageToken=page_token, maxResults=250))
        entries.extend(page.get("items", []))
        page_token = page.get("nextPageToken")
        if not page_token:
            return entries
