"""Google's JSON error format, as the Calendar API and the OAuth endpoints answer.

Calendar (developers.google.com/workspace/calendar/api/guides/errors):
``{"error": {"errors": [{"domain", "reason", "message", "locationType"?, "location"?}],
"code", "message"}}``. Clients decide by ``code`` and ``errors[0].reason``, so every error the
emulator sends names its reason. OAuth endpoints answer RFC 6749 bodies instead
(``{"error": "invalid_grant", "error_description": ...}``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# reason -> (status, domain, message) for the errors the Calendar API documents.
REASONS: dict[str, tuple[int, str, str]] = {
    "badRequest": (400, "global", "Bad Request"),
    "invalid": (400, "global", "Invalid Value"),
    "required": (400, "global", "Required"),
    "timeRangeEmpty": (400, "calendar", "The specified time range is empty."),
    "authError": (401, "global", "Invalid Credentials"),
    "insufficientPermissions": (403, "global", "Insufficient Permission"),
    "forbidden": (403, "global", "Forbidden"),
    "rateLimitExceeded": (403, "usageLimits", "Rate Limit Exceeded"),
    "userRateLimitExceeded": (403, "usageLimits", "User Rate Limit Exceeded"),
    "quotaExceeded": (403, "usageLimits", "Calendar usage limits exceeded."),
    "dailyLimitExceeded": (403, "usageLimits", "Daily Limit Exceeded"),
    "notFound": (404, "global", "Not Found"),
    "duplicate": (409, "global", "The requested identifier already exists."),
    "fullSyncRequired": (410, "calendar", "Sync token is no longer valid, a full sync is required."),
    "updatedMinTooLongAgo": (
        410,
        "calendar",
        "The requested minimum modification time lies too far in the past.",
    ),
    "deleted": (410, "global", "Resource has been deleted"),
    "conditionNotMet": (412, "global", "Precondition Failed"),
    "backendError": (500, "global", "Backend Error"),
}
# 429 carries the rate-limit reason with its own status (the errors guide lists both 403 and 429).
TOO_MANY_REQUESTS = (429, "usageLimits", "Rate Limit Exceeded")

# The reason an injected fault without a scripted body reports, by status.
DEFAULT_REASON = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "duplicate",
    410: "fullSyncRequired",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


class GoogleError(Exception):
    """Raised by handlers and the store; answered as Google's error body."""

    def __init__(
        self,
        reason: str,
        message: str | None = None,
        *,
        status: int | None = None,
        location: str | None = None,
        location_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        known_status, domain, known_message = REASONS.get(reason, (status or 400, "global", reason))
        self.status = status or known_status
        self.reason = reason
        self.domain = domain
        self.message = message or known_message
        self.location = location
        self.location_type = location_type or ("parameter" if location else None)
        self.headers = headers
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return error_body(
            self.status, self.reason, self.message, self.domain, self.location, self.location_type
        )

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def error_body(
    status: int,
    reason: str,
    message: str,
    domain: str = "global",
    location: str | None = None,
    location_type: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"domain": domain, "reason": reason, "message": message}
    if location:
        item["locationType"] = location_type or "parameter"
        item["location"] = location
    return {"error": {"errors": [item], "code": status, "message": message}}


def reason_body(reason: str, status: int | None = None) -> tuple[int, dict[str, Any]]:
    """(status, body) of a documented reason; 429 answers the rate-limit reason with 429."""
    if status == 429:
        code, domain, message = TOO_MANY_REQUESTS
    else:
        code, domain, message = REASONS[reason]
    return code, error_body(code, reason, message, domain)


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
