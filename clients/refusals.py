"""What a provider's refusal tells Temporal: whether another attempt may succeed, and when.

Every provider client here turns its library's errors into ProviderRefused, with the clients' own
retries off: retrying, backing off (the provider's Retry-After honoured) and falling back to the
next provider are the workflow's. The activity maps ``retryable=False`` to a non-retryable
ApplicationError and ``retry_after`` to its ``next_retry_delay``.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass
class ProviderRefused(Exception):
    provider: str
    status: int | None
    reason: str
    retryable: bool
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.provider} {self.status or ''} {self.reason}".strip()

    @property
    def kind(self) -> str:
        """The refusal in one word, for metrics and alerts: `rate_limited` (429; Google's
        RESOURCE_EXHAUSTED maps to it), `unauthorized` (401, 403), `unavailable` (5xx, Anthropic's
        529 overloaded, 408, a timeout or a lost connection), `rejected` (other 4xx: our request),
        `refused` (the provider answered but would not do it: a model's refusal, an operation
        that failed)."""
        if self.status is None:
            return "unavailable" if self.retryable else "refused"
        if self.status == 429:
            return "rate_limited"
        if self.status in (401, 403):
            return "unauthorized"
        if self.status >= 500 or self.status == 408:
            return "unavailable"
        return "rejected"


def retryable_status(status: int) -> bool:
    """429 and 5xx (Anthropic's 529 overloaded included), a timeout or a conflict are worth
    another try; other 4xx are not (a bad request, a bad key, an unknown resource)."""
    return status == 429 or status >= 500 or status in (408, 409)


def retry_after_seconds(headers: Any, now: datetime | None = None) -> float | None:
    """An HTTP answer's Retry-After in seconds from now: delay-seconds or an HTTP-date (RFC 9110
    section 10.2.3); None when absent or unreadable."""
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            at = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        # An HTTP-date is GMT; a date already past means now.
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        seconds = max((at - (now or datetime.now(UTC))).total_seconds(), 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def refused_by_status(provider: str, status: int, message: str, headers: Any) -> ProviderRefused:
    """An HTTP provider's error answer, after the provider's Retry-After when it gives one."""
    return ProviderRefused(
        provider,
        status,
        message[:300],
        retryable=retryable_status(status),
        retry_after=retry_after_seconds(headers),
    )
