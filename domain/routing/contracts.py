"""What crosses the routing workflows' boundaries: their inputs, updates and activity payloads.

The API, the workflows and the activities all speak these models. Ids travel, data does not:
a routing activity loads the job and the receiver's credentials from the store by id, so no
homeowner detail or secret sits in a routing workflow's history.
"""

from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from pydantic import Field

from domain.routing.base import RoutingModel
from domain.routing.models import ServiceJobCreate
from domain.routing.selection import RoutingMode
from domain.routing.status import RoutingEvent, RoutingStatus

TASK_QUEUE = "routing"
JOB_WORKFLOW = "ServiceJob"
ROUTING_WORKFLOW = "Routing"
# A sequential offer's routing tells its job workflow how the offer ended.
OFFER_RESOLVED = "offer_resolved"


def job_workflow_id(job_id: UUID) -> str:
    return f"service-job:{job_id}"


def routing_workflow_id(routing_id: UUID) -> str:
    return f"routing:{routing_id}"


def job_id_for(referrer_id: UUID, idempotency_key: str) -> UUID:
    """The same key from the same company always names the same job (and workflow)."""
    return uuid5(referrer_id, f"idempotency-key:{idempotency_key}")


def routing_id_for(job_id: UUID, receiver_id: UUID) -> UUID:
    """One routing per (job, receiver): a replayed or retried creation finds the same one."""
    return uuid5(job_id, f"receiver:{receiver_id}")


class Updates(StrEnum):
    """Workflow update names, for the API and for `temporal workflow update execute --name`."""

    ACCEPT = "accept"
    DECLINE = "decline"
    RETRY = "retry"
    CANCEL = "cancel"
    COMPLETE = "complete"


class RoutingSettings(RoutingModel):
    """Deployment settings a workflow needs, fixed when the job is created (workflows read no env)."""

    retry_initial: timedelta = timedelta(seconds=1)
    retry_maximum: timedelta = timedelta(minutes=10)
    max_attempts: int = Field(default=12, ge=1)
    follow_interval: timedelta = timedelta(minutes=15)
    # Polls per workflow run before continue-as-new, keeping each run's history small.
    polls_per_run: int = Field(default=200, ge=1)


class ServiceJobStart(RoutingModel):
    job_id: UUID
    referrer_id: UUID
    idempotency_key: str
    request_hash: str
    job: ServiceJobCreate
    mode: RoutingMode
    settings: RoutingSettings


class Step(StrEnum):
    """Where a routing is in its life; sync steps are resumed from the one that failed."""

    OFFER = "offer"
    CUSTOMER = "customer"  # token, then find-or-create customer and location
    BOOKING = "booking"
    FOLLOW = "follow"
    LEDGER = "ledger"


class Progress(RoutingModel):
    """What a routing has achieved so far; carried across continue-as-new."""

    status: RoutingStatus = RoutingStatus.PENDING
    seq: int = 0  # timeline events written so far
    provider: str | None = None
    customer_id: int | None = None
    location_id: int | None = None
    booking_id: int | None = None
    provider_job_id: int | None = None
    provider_status: str | None = None
    invoice_total: Decimal | None = None
    failed_step: Step | None = None
    last_error: str | None = None


class Completion(RoutingModel):
    """A receiver without a provider connection reports the job done, with what it invoiced."""

    invoice_total: Decimal = Field(ge=0, max_digits=14, decimal_places=2)


class Requests(RoutingModel):
    """What people asked of a routing (through its updates) that the workflow has not acted on
    yet. It travels with the progress across continue-as-new: a request that was answered is
    never dropped by a fresh run."""

    decision: RoutingEvent | None = None  # accept or decline, while offered
    cancel: bool = False
    retry: bool = False
    completion: Completion | None = None


class ReceiverProvider(RoutingModel):
    """The receiver's provider connection as read when its routing was created."""

    name: str | None  # None: the receiver has no connection and reports the outcome itself


class RoutingStart(RoutingModel):
    routing_id: UUID
    job_id: UUID
    referrer_id: UUID
    receiver_id: UUID
    # Set for a sequential offer: the receiver must accept within this, and the job workflow
    # hears how the offer ended.
    accept_timeout: timedelta | None = None
    # Set for a fan-out routing (accepted as it starts): its provider, read as it was created.
    # A sequential offer reads the provider when it is accepted, maybe days later.
    provider: ReceiverProvider | None = None
    settings: RoutingSettings
    progress: Progress = Progress()
    requests: Requests = Requests()


class OfferOutcome(RoutingModel):
    routing_id: UUID
    accepted: bool


# -- activity payloads ------------------------------------------------------------------------


class NewRoutings(RoutingModel):
    """Routings to create now (a sequential offer creates each one when its turn comes), or
    none, with the reason the job stays unrouted."""

    job_id: UUID
    referrer_id: UUID
    chosen: list[UUID]
    first_position: int = 0
    no_candidate_reason: str | None = None


class CreatedRouting(RoutingModel):
    routing_id: UUID
    receiver_id: UUID
    provider: ReceiverProvider | None = None  # None: created before it was read here


class StatusChange(RoutingModel):
    """A routing's new status and what came with it, written to the store and its timeline."""

    routing_id: UUID
    seq: int
    step: Step
    progress: Progress


class StatusChanges(RoutingModel):
    """Changes made one after the other with nothing in between, written in one call."""

    changes: list[StatusChange]


class SyncRequest(RoutingModel):
    routing_id: UUID
    job_id: UUID
    receiver_id: UUID
    # Set once booked: what the follow-up asks the provider about.
    booking_id: int | None = None
    provider_job_id: int | None = None


class CustomerSynced(RoutingModel):
    customer_id: int
    location_id: int
    created: bool


class BookingSynced(RoutingModel):
    booking_id: int
    provider_job_id: int | None
    created: bool


class BookingSync(RoutingModel):
    """The sync steps in one call: the customer (unless known), then the booking."""

    request: SyncRequest
    customer: CustomerSynced | None = None


class Synced(RoutingModel):
    customer: CustomerSynced
    booking: BookingSynced


class ProviderProgress(RoutingModel):
    provider_job_id: int | None
    provider_status: str | None
    # None while the provider reports nothing new that routing understands.
    status: RoutingStatus | None
    invoice_total: Decimal | None = None


class LedgerRequest(RoutingModel):
    routing_id: UUID
    invoice_total: Decimal
