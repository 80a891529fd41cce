"""The official clients against the Google emulator: the OAuth redirect dance over plain HTTP,
google-auth credentials, and a Calendar service built from the packaged discovery document."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
SCOPES = ["https://www.googleapis.com/auth/calendar"]


@dataclass
class Connected:
    email: str
    credentials: Credentials
    service: Any
    token_body: dict[str, Any]


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.com"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(
    emulator: str, email: str, challenge: str, state: str = "st4te", scopes: list[str] | None = None
) -> httpx.Response:
    """The consent page shown, then approved: the redirect the browser would follow."""
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": " ".join(scopes or SCOPES),
        "state": state,
        "access_type": "offline",
        "prompt": "consent",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": email,
    }
    page = httpx.get(f"{emulator}/google/oauth2/auth", params=params)
    assert page.status_code == 200 and "<form" in page.text, page.text
    return httpx.post(
        f"{emulator}/google/oauth2/auth", params=params, data={"user": email, "decision": "approve"}
    )


def code_from(redirect: httpx.Response) -> dict[str, str]:
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def exchange(emulator: str, code: str, verifier: str | None) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return httpx.post(f"{emulator}/google/oauth2/token", data=form)


def calendar_service(emulator: str, credentials: Credentials) -> Any:
    return build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": f"{emulator}/google"},
    )


def connect(emulator: str, email: str | None = None, scopes: list[str] | None = None) -> Connected:
    email = email or new_email()
    verifier, challenge = pkce()
    params = code_from(authorize(emulator, email, challenge, scopes=scopes))
    answer = exchange(emulator, params["code"], verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    credentials = Credentials(
        token=body["access_token"],
        refresh_token=body["refresh_token"],
        token_uri=f"{emulator}/google/oauth2/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=scopes or SCOPES,
    )
    return Connected(email, credentials, calendar_service(emulator, credentials), body)


def control(emulator: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{emulator}/_control/google{path}", timeout=120, **kwargs)


def list_all(service: Any, **params: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of events.list: (items, pages)."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        page = service.events().list(calendarId="primary", pageToken=token, **params).execute()
        pages.append(page)
        items.extend(page["items"])
        token = page.get("nextPageToken")
        if token is None:
            return items, pages
