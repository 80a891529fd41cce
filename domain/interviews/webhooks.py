"""Interview webhooks: the events a tenant subscribes to, the body each delivery carries, and how
it is signed (and verified, by `verify`, which a receiver may copy: it uses the standard library
only).

A body says what happened to which interview, by ids: never contact data, never what was said.
It is built once, when the event happens, and kept (sealed); every attempt and every redelivery
sends the same bytes, signed anew with the attempt's timestamp.

Signature: `Tempoline-Webhook-Signature: v1=<hex>` where hex is HMAC-SHA256 of
f"{timestamp}.{body}" keyed by the subscription's secret (its UTF-8 bytes), and timestamp is the
`Tempoline-Webhook-Timestamp` header (Unix seconds). Several space-separated signatures may come
(a future key rotation); one valid is enough.
"""

import hashlib
import hmac
import ipaddress
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.interviews.pipeline import PipelineModel

ID_HEADER = "Tempoline-Webhook-Id"
TIMESTAMP_HEADER = "Tempoline-Webhook-Timestamp"
SIGNATURE_HEADER = "Tempoline-Webhook-Signature"
SIGNATURE_VERSION = "v1"
# How old a timestamp a receiver should accept (replayed requests are refused after it).
TOLERANCE_SECONDS = 300
WEBHOOK_DELIVERY_WORKFLOW = "InterviewWebhookDelivery"


def delivery_workflow_id(delivery_id: uuid.UUID) -> str:
    return f"interview-webhook:{delivery_id}"


class WebhookEvent(StrEnum):
    TRANSCRIBED = "interview.transcribed"
    ANALYZED = "interview.analyzed"
    # The interview failed (nothing could be made of its recording) or its analysis did.
    FAILED = "interview.failed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# --- the API's models ---------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _receiver_url(value: str) -> str:
    # https anywhere; plain http only to this machine (a receiver under development): a body and
    # its signature in cleartext over a network would let anyone read and replay them.
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("an absolute https:// URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            "https:// is required (plain http only to a loopback host: 127.0.0.1, ::1, localhost)"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not accepted; the signature authenticates us")
    if parts.fragment:
        raise ValueError("a URL without a #fragment (it is never sent)")
    try:
        parts.port  # noqa: B018  (an out-of-range port raises here)
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    return value


def _distinct(events: list[WebhookEvent]) -> list[WebhookEvent]:
    if len(set(events)) != len(events):
        raise ValueError("each event once")
    return events


ReceiverUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(_receiver_url),
]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: ReceiverUrl = Field(description="Where events are POSTed: https (http only to a loopback host)")
    events: Annotated[list[WebhookEvent], Field(min_length=1), AfterValidator(_distinct)]


class Subscription(BaseModel):
    id: uuid.UUID
    url: str
    events: list[WebhookEvent]
    # False once the receiver answered 410 Gone: nothing more is sent to it.
    active: bool
    created_at: datetime


class SubscriptionCreated(Subscription):
    secret: str = Field(description="The signing secret: shown once, in this answer only")


class Attempt(BaseModel):
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None


class Delivery(BaseModel):
    id: uuid.UUID
    subscription_id: uuid.UUID
    interview_id: uuid.UUID
    event: WebhookEvent
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[Attempt]


# --- what is sent -------------------------------------------------------------------------------


class EventData(BaseModel):
    """What happened, by ids: no contact data, no transcript text."""

    interview_id: uuid.UUID
    status: str
    transcript_id: uuid.UUID | None = None
    analysis_id: uuid.UUID | None = None
    score: float | None = None
    # Why the interview or its analysis failed (interview.failed only).
    failure: str | None = None


class WebhookBody(BaseModel):
    # The event's id: the same for every subscription it goes to, and across redeliveries.
    id: uuid.UUID
    type: WebhookEvent
    created_at: datetime
    data: EventData


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signed_headers(secret: str, delivery_id: uuid.UUID, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        ID_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether `body` came from tempoline signed with `secret`, less than `tolerance` seconds ago.
    `headers` as received (any case); `body` the raw bytes, before any JSON parsing."""
    lowered = {name.lower(): value for name, value in headers.items()}
    stamp, signatures = lowered.get(TIMESTAMP_HEADER.lower()), lowered.get(SIGNATURE_HEADER.lower())
    if not stamp or not signatures or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = sign(secret, int(stamp), body)
    return any(hmac.compare_digest(expected, given) for given in signatures.split())


# --- between the workflows and their activities -------------------------------------------------


class InterviewEvent(PipelineModel):
    """An event of one interview workflow run: the deliveries it makes are named by the run, the
    event and the subscription, so a store call retried makes none twice."""

    tenant_id: uuid.UUID
    run_id: str
    event: WebhookEvent
    occurred_at: datetime
    data: EventData


class DeliveryPolicy(PipelineModel):
    """How a delivery is retried: the deployment's settings, which its workflow asks for."""

    timeout_seconds: float
    initial_interval_seconds: float
    maximum_interval_seconds: float
    maximum_attempts: int


class PlannedDeliveries(PipelineModel):
    deliveries: list[uuid.UUID]


class DeliveryStart(PipelineModel):
    delivery_id: uuid.UUID


class DeliveryOutcome(PipelineModel):
    delivery_id: uuid.UUID
    status: DeliveryStatus
    detail: str | None = None


class DeliveryFailed(PipelineModel):
    delivery_id: uuid.UUID
    reason: str
