"""OAuth 2.0 for web server apps: consent page, authorization codes (PKCE), tokens, revocation.

``/oauth2/auth`` shows a consent page that approves for local use and redirects with ``code`` and
``state``; ``/oauth2/token`` exchanges a code (client id/secret, redirect URI, PKCE verifier) or a
refresh token; ``/oauth2/revoke`` revokes a grant. Access tokens expire; Calendar calls present
them as ``Authorization: Bearer``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from emulators.providers.google.calendar_store import CalendarStore
from emulators.providers.google.errors import GoogleError, oauth_error
from emulators.providers.google.persistence import Persistence

DEFAULT_CLIENT_ID = os.environ.get("EMULATOR_GOOGLE_CLIENT_ID", "emulator-client-id")
DEFAULT_CLIENT_SECRET = os.environ.get("EMULATOR_GOOGLE_CLIENT_SECRET", "emulator-client-secret")
ACCESS_TOKEN_TTL = 3599  # what Google's token endpoint answers as expires_in
CODE_TTL = 600


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)  # empty: any (local use)
    access_token_ttl: float = ACCESS_TOKEN_TTL


@dataclass
class Grant:
    refresh_token: str
    client_id: str
    user: str
    scopes: list[str]
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    user: str
    scopes: list[str]
    expires_at: float  # wall clock, so a token outlives an emulator restart as it would Google's
    refresh_token: str | None = None


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    user: str
    scopes: list[str]
    offline: bool
    challenge: str | None
    method: str
    expires_at: float
    used: bool = False


class OAuthState:
    def __init__(self, db: Persistence | None = None) -> None:
        self.db = db
        self.clients: dict[str, Client] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.codes: dict[str, Code] = {}
        if db is not None:
            self.clients = {k: Client(**v) for k, v in db.records("client")}
            self.grants = {k: Grant(**v) for k, v in db.records("grant")}
            self.tokens = {k: AccessToken(**v) for k, v in db.records("access")}
        self.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, keep_existing=True)

    def _save(self, kind: str, key: str, value: Any) -> None:
        if self.db is not None:
            self.db.put(kind, key, asdict(value))

    def reset(self) -> None:
        self.clients.clear()
        self.grants.clear()
        self.tokens.clear()
        self.codes.clear()
        self.register_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str] | None = None,
        access_token_ttl: float = ACCESS_TOKEN_TTL,
        keep_existing: bool = False,
    ) -> Client:
        if keep_existing and client_id in self.clients:
            return self.clients[client_id]
        client = Client(client_id, client_secret, list(redirect_uris or []), access_token_ttl)
        self.clients[client_id] = client
        self._save("client", client_id, client)
        return client

    def issue_access(self, client: Client, user: str, scopes: list[str], refresh: str | None) -> AccessToken:
        token = AccessToken(
            "ya29.emu-" + secrets.token_urlsafe(32),
            client.client_id,
            user,
            scopes,
            time.time() + client.access_token_ttl,
            refresh,
        )
        self.tokens[token.token] = token
        self._save("access", token.token, token)
        return token

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        self._save("grant", grant.refresh_token, grant)
        for token in [t for t in self.tokens.values() if t.refresh_token == grant.refresh_token]:
            self.drop_access(token)

    def drop_access(self, token: AccessToken) -> None:
        self.tokens.pop(token.token, None)
        if self.db is not None:
            self.db.delete("access", token.token)

    def revoke_user(self, user: str) -> int:
        grants = [g for g in self.grants.values() if g.user == user and not g.revoked]
        for grant in grants:
            self.revoke_grant(grant)
        return len(grants)

    def expire_access_tokens(self, user: str) -> int:
        expired = 0
        for token in self.tokens.values():
            if token.user == user and token.expires_at > time.time():
                token.expires_at = time.time() - 1
                self._save("access", token.token, token)
                expired += 1
        return expired

    def authorize(self, request: Request) -> AccessToken:
        """The bearer token of a Calendar call; 401 in Google's shape when it is missing or dead."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise GoogleError(
                "required",
                "Login Required.",
                status=401,
                location="Authorization",
                location_type="header",
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        token = self.tokens.get(value.strip())
        if token is None or token.expires_at <= time.time():
            raise GoogleError(
                "authError",
                location="Authorization",
                location_type="header",
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
                },
            )
        return token


def _challenge(verifier: str, method: str) -> str:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier


def _error_page(status: int, error: str, detail: str) -> HTMLResponse:
    body = (
        "<!doctype html><title>Error</title><h1>Access blocked: authorization error</h1>"
        f"<p>Error {status}: {html.escape(error)}</p><p>{html.escape(detail)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(uri + separator + urlencode(params), status_code=302)


class OAuthEndpoints:
    def __init__(self, state: OAuthState, calendars: CalendarStore) -> None:
        self.state = state
        self.calendars = calendars

    def routes(self) -> list[Route]:
        return [
            Route("/oauth2/auth", self.consent, methods=["GET", "POST"]),
            Route("/oauth2/token", self.token, methods=["POST"]),
            Route("/oauth2/revoke", self.revoke, methods=["POST"]),
        ]

    # -- authorization endpoint -------------------------------------------------------------
    async def consent(self, request: Request) -> Response:
        q = request.query_params
        client = self.state.clients.get(q.get("client_id", ""))
        if client is None:
            return _error_page(401, "invalid_client", "The OAuth client was not found.")
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri or (client.redirect_uris and redirect_uri not in client.redirect_uris):
            return _error_page(400, "redirect_uri_mismatch", f"redirect_uri={redirect_uri}")
        state = q.get("state")
        extra = {"state": state} if state is not None else {}
        if q.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", **extra})
        scopes = q.get("scope", "").split()
        if not scopes:
            return _error_page(400, "invalid_request", "Missing required parameter: scope")
        method = q.get("code_challenge_method", "plain" if q.get("code_challenge") else "")
        if q.get("code_challenge") and method not in ("S256", "plain"):
            return _error_page(400, "invalid_request", "Invalid code_challenge_method")
        if request.method == "GET":
            return self._page(request, scopes)
        form = await request.form()
        if form.get("decision") != "approve":
            return _redirect(redirect_uri, {"error": "access_denied", **extra})
        email = str(form.get("user") or q.get("login_hint") or "").strip()
        if "@" not in email:
            return self._page(request, scopes, "Enter the email address of the account to use.")
        self.calendars.create_user(email)
        code = Code(
            "4/emu-" + secrets.token_urlsafe(24),
            client.client_id,
            redirect_uri,
            email,
            scopes,
            q.get("access_type") == "offline",
            q.get("code_challenge"),
            method,
            time.time() + CODE_TTL,
        )
        self.state.codes[code.code] = code
        return _redirect(redirect_uri, {"code": code.code, "scope": " ".join(scopes), **extra})

    def _page(self, request: Request, scopes: list[str], notice: str = "") -> HTMLResponse:
        hint = html.escape(request.query_params.get("login_hint", ""))
        users = "".join(f"<option value='{html.escape(u)}'>" for u in self.calendars.users)
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        action = html.escape(str(request.url))
        body = (
            "<!doctype html><title>Sign in - Google Accounts (emulator)</title>"
            "<h1>Emulated Google consent</h1><p>Approves for local use only.</p>"
            f"<p>{html.escape(notice)}</p><p>The app asks for:</p><ul>{items}</ul>"
            f"<form method='post' action='{action}'>"
            f"<label>Account <input name='user' list='users' value='{hint}'></label>"
            f"<datalist id='users'>{users}</datalist>"
            "<button name='decision' value='approve'>Allow</button>"
            "<button name='decision' value='deny'>Cancel</button></form>"
        )
        return HTMLResponse(body)

    # -- token endpoint -----------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return oauth_error("invalid_request", "Bad Request")
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                return oauth_error("invalid_client", "Unauthorized", 401)
        client = self.state.clients.get(client_id)
        if client is None:
            return oauth_error("invalid_client", "The OAuth client was not found.", 401)
        if not secrets.compare_digest(client.client_secret, secret):
            return oauth_error("invalid_client", "Unauthorized", 401)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return self._exchange(client, form)
        if grant_type == "refresh_token":
            return self._refresh(client, form)
        return oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _exchange(self, client: Client, form: dict[str, str]) -> Response:
        code = self.state.codes.get(form.get("code", ""))
        if code is None or code.client_id != client.client_id or code.expires_at <= time.time():
            return oauth_error("invalid_grant", "Malformed auth code.")
        if code.used:
            return oauth_error("invalid_grant", "Bad Request")
        if form.get("redirect_uri") != code.redirect_uri:
            return oauth_error("redirect_uri_mismatch", "Bad Request")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                return oauth_error("invalid_grant", "Missing code verifier.")
            if not secrets.compare_digest(_challenge(verifier, code.method), code.challenge):
                return oauth_error("invalid_grant", "Invalid code verifier.")
        code.used = True
        refresh = None
        if code.offline:
            grant = Grant("1//emu-" + secrets.token_urlsafe(32), client.client_id, code.user, code.scopes)
            self.state.grants[grant.refresh_token] = grant
            self.state._save("grant", grant.refresh_token, grant)
            refresh = grant.refresh_token
        access = self.state.issue_access(client, code.user, code.scopes, refresh)
        body = self._token_body(client, access)
        if refresh:
            body["refresh_token"] = refresh
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def _refresh(self, client: Client, form: dict[str, str]) -> Response:
        grant = self.state.grants.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked or grant.client_id != client.client_id:
            return oauth_error("invalid_grant", "Token has been expired or revoked.")
        access = self.state.issue_access(client, grant.user, grant.scopes, grant.refresh_token)
        return JSONResponse(self._token_body(client, access), headers={"Cache-Control": "no-store"})

    @staticmethod
    def _token_body(client: Client, access: AccessToken) -> dict[str, Any]:
        return {
            "access_token": access.token,
            "expires_in": max(1, int(client.access_token_ttl)),
            "scope": " ".join(access.scopes),
            "token_type": "Bearer",
        }

    # -- revocation ---------------------------------------------------------------------------
    async def revoke(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is None and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
            token = str((await request.form()).get("token") or "")
        grant = self.state.grants.get(token or "")
        if grant is None:
            access = self.state.tokens.get(token or "")
            if access is not None and access.refresh_token:
                grant = self.state.grants.get(access.refresh_token)
            elif access is not None:
                self.state.drop_access(access)
                return JSONResponse({})
        if grant is None or grant.revoked:
            return oauth_error("invalid_token", "Token expired or revoked")
        self.state.revoke_grant(grant)
        return JSONResponse({})
