"""ASGI middleware: correlation id, request metrics per route template, one access-log line per
request, the last word on unexpected errors, and a body-size guard.

Plain ASGI (not BaseHTTPMiddleware) so streaming bodies and Server-Sent Events pass untouched.
"""

import re
import time
import uuid
from collections.abc import Sequence

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from core.logging import correlation_id, get_logger

REQUESTS = Counter("tempoline_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "tempoline_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HEADER = b"x-correlation-id"
# Where authentication leaves the caller's tenant for the access log (the scope is shared by
# every layer of the request; a context variable set in a dependency would not come back out).
TENANT = "tempoline.tenant_id"
log = get_logger("api.access")


def note_tenant(scope: Scope, tenant_id: object) -> None:
    scope[TENANT] = str(tenant_id)


class _TooLarge(HTTPException):
    """Raised from receive(): FastAPI re-raises HTTPExceptions from body parsing as they are."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large: the limit is {limit} bytes.")


class RequestContext:
    """`max_body_bytes` limits every request's body but those whose path matches a pattern of
    `route_limits` (an upload route's own, larger limit)."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, route_limits: Sequence[tuple[re.Pattern[str], int]] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.route_limits = route_limits

    def _limit(self, path: str) -> int:
        return next(
            (limit for pattern, limit in self.route_limits if pattern.match(path)), self.max_body_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(HEADER, b"").decode("latin-1")
        # Accept a caller's id only if it is short and printable: it ends up in every log line.
        cid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        token = correlation_id.set(cid)
        start = time.perf_counter()
        status, status_sent = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                message["headers"] = [*message.get("headers", []), (HEADER, cid.encode())]
            await send(message)

        received = 0
        limit = self._limit(scope["path"])

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge(limit)
            return message

        try:
            declared = headers.get(b"content-length", b"0")
            if declared.isdigit() and int(declared) > limit:
                too_large = _TooLarge(limit)
                await problem(413, too_large.detail)(scope, receive, send_with_id)
            else:
                await self.app(scope, guarded_receive, send_with_id)
        except Exception:
            # Here, not in an exception handler: Starlette runs the catch-all handler outside every
            # middleware, after this one has forgotten the correlation id.
            log.exception("unhandled error", method=scope["method"], route=_template(scope))
            if status_sent:
                raise  # the response has begun: nothing left to answer with
            status = 500
            await problem(500, "Internal server error", "An unexpected error occurred; it has been logged.")(
                scope, receive, send_with_id
            )
        finally:
            template = _template(scope)
            method = scope["method"]
            elapsed = time.perf_counter() - start
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(elapsed)
            log.info(
                "request",
                method=method,
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
                tenant_id=scope.get(TENANT),
            )
            correlation_id.reset(token)


def _template(scope: Scope) -> str:
    # The route's template (/api/routing/jobs/{job_id}), never the path: paths carry ids and tokens.
    return getattr(scope.get("route"), "path", None) or "unmatched"
