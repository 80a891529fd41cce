"""Google's OAuth 2.0 authorization-code flow for a web server app, with PKCE (RFC 7636, S256):
the parts that are pure. Offline access (a refresh token) and consent every time, so that a
reconnect after a revoked token gets a new refresh token."""

import base64
import hashlib
import secrets
from datetime import datetime
from urllib.parse import urlencode

from pydantic import BaseModel

# Read the user's calendar list and events, write events (two-way), read free/busy.
SCOPES = (
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events",
)


def pkce_pair() -> tuple[str, str]:
    """(code verifier, its S256 challenge): 43 characters of URL-safe randomness, and the
    base64url SHA-256 of it without padding."""
    verifier = secrets.token_urlsafe(32)
    return verifier, challenge_of(verifier)


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(auth_uri: str, *, client_id: str, redirect_uri: str, state: str, challenge: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{auth_uri}?{urlencode(query)}"


class GoogleTokens(BaseModel):
    """A user's tokens, as stored (sealed to the user): never returned by any endpoint."""

    refresh_token: str
    access_token: str | None = None
    expires_at: datetime | None = None
