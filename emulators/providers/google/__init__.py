"""Google emulator: OAuth 2.0 (consent page, token endpoint, revocation) and Calendar API v3.

Served under ``/google``: GOOGLE_OAUTH_AUTH_URI=<emulator>/google/oauth2/auth,
GOOGLE_OAUTH_TOKEN_URI=<emulator>/google/oauth2/token, GOOGLE_CALENDAR_API_ENDPOINT=<emulator>/google
(revocation: <emulator>/google/oauth2/revoke). Control API under ``/_control/google``.
docs/emulators.md says which behaviours follow the real API and where that knowledge came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.routing import Router

from emulators.control import CallCounts
from emulators.providers.base import Provider
from emulators.providers.google.calendar_api import CalendarApi
from emulators.providers.google.calendar_store import CalendarStore
from emulators.providers.google.channels import Channels
from emulators.providers.google.control import control_routes
from emulators.providers.google.errors import DEFAULT_REASON, REASONS, error_body
from emulators.providers.google.oauth import OAuthEndpoints, OAuthState
from emulators.providers.google.operations import classify
from emulators.providers.google.persistence import Persistence

if TYPE_CHECKING:
    from emulators.hub import Hub

DB_FILE = "google.sqlite3"


class GoogleProvider(Provider):
    name = "google"

    def __init__(self, data_dir: Path | None = None) -> None:
        db = Persistence(data_dir / DB_FILE) if data_dir is not None else None
        self.store = CalendarStore(db)
        self.oauth = OAuthState(db)
        self.channels = Channels(db)
        self.store.on_change = self.channels.changed
        # per operation and answered status, every call the gateway saw (faulted ones included).
        self.calls = CallCounts()
        api = CalendarApi(self.oauth, self.store, self.channels)
        self.app = Router(
            routes=[*OAuthEndpoints(self.oauth, self.store).routes(), *api.routes()], default=self._not_found
        )
        self.hub: Hub | None = None
        self.control_routes = control_routes(self)

    async def _not_found(self, scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse(error_body(404, "notFound", "Not Found"), status_code=404)(scope, receive, send)

    def bind(self, hub: Hub) -> None:
        self.hub = hub

    def observe(self, method: str, path: str, status: int | None) -> None:
        self.calls.add(classify(method, path), status)

    def reset(self) -> None:
        self.store.reset()
        self.oauth.reset()
        self.channels.reset()
        self.calls.clear()

    def error_body(self, status: int, message: str) -> Any:
        reason = DEFAULT_REASON.get(status, "backendError")
        _, domain, text = REASONS[reason]
        return error_body(status, reason, text, domain)


def create_provider(data_dir: Path | None = None) -> GoogleProvider:
    return GoogleProvider(data_dir)
