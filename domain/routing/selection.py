"""Which partner companies a job is routed to, and in which order.

The selection runs inside a Temporal workflow, so it is a pure function of its inputs: the
clock is passed in, and ties are broken by a hash of (fairness_key, company_id) rather than by
randomness or by the order in which candidates happen to be listed.

Rules, checked in this order; a rejected company gets the reason of the first rule it fails,
so the reason answers the most fundamental "why not" (relationship, then fit, then load):

1. same_company: a company never routes to itself.
2. no_active_partnership: no partnership with the referrer, or one that is not active.
3. excluded_by_receiver: the receiver's excluded_partner_ids lists the referrer.
4. trade_not_offered: the receiver does not do the job's trade.
5. outside_service_area: the receiver's service area does not cover the job's address.
6. at_daily_capacity: routings_today has reached daily_capacity.

Being closed right now does NOT exclude a receiver, it only ranks it lower: a booking is
scheduled for later anyway, and excluding closed companies would leave evening and weekend
jobs with nobody at all.

Ranking of the qualifying receivers (best first):
preferred (by the referrer, or the receiver prefers the referrer), open now, lower load
(routings_today / daily_capacity, in 5 % bands), fewer recent routings (by order of magnitude:
0, 1, 2-3, 4-7, ...), then the fairness hash. The bands keep a burst of jobs, which all read the
same counts, from all choosing the same receiver.
"""

import hashlib
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from domain.routing.base import RoutingModel
from domain.routing.models import ServiceJobCreate
from domain.routing.partners import Candidate


class FanOutMode(RoutingModel):
    """Offer the job to the best N receivers at once."""

    kind: Literal["fan_out"] = "fan_out"
    fan_out_count: int = Field(ge=1, le=50, strict=True)


class SequentialMode(RoutingModel):
    """Offer the job to one receiver at a time, moving on when an offer is not accepted in time."""

    kind: Literal["sequential"] = "sequential"
    accept_timeout: timedelta = Field(ge=timedelta(minutes=1), le=timedelta(days=7))


RoutingMode = Annotated[FanOutMode | SequentialMode, Field(discriminator="kind")]
ROUTING_MODE: TypeAdapter[FanOutMode | SequentialMode] = TypeAdapter(RoutingMode)


class RejectionReason(StrEnum):
    SAME_COMPANY = "same_company"
    NO_ACTIVE_PARTNERSHIP = "no_active_partnership"
    EXCLUDED_BY_RECEIVER = "excluded_by_receiver"
    TRADE_NOT_OFFERED = "trade_not_offered"
    OUTSIDE_SERVICE_AREA = "outside_service_area"
    AT_DAILY_CAPACITY = "at_daily_capacity"
    # Qualified, but fan-out already took fan_out_count better-ranked receivers. Recorded so
    # that every candidate is accounted for in chosen or rejected.
    BEYOND_FAN_OUT = "beyond_fan_out"


_REASON_LABELS = {
    RejectionReason.SAME_COMPANY: "same company as referrer",
    RejectionReason.NO_ACTIVE_PARTNERSHIP: "no active partnership",
    RejectionReason.EXCLUDED_BY_RECEIVER: "excluded by receiver",
    RejectionReason.TRADE_NOT_OFFERED: "trade not offered",
    RejectionReason.OUTSIDE_SERVICE_AREA: "outside service area",
    RejectionReason.AT_DAILY_CAPACITY: "at daily capacity",
    RejectionReason.BEYOND_FAN_OUT: "beyond fan-out count",
}


class Selection(RoutingModel):
    # Best first; for sequential routing this is the order in which offers are made.
    chosen: list[UUID]
    # Keyed in company_id order, so the same selection always serialises the same way.
    rejected: dict[UUID, RejectionReason]
    # Set exactly when nothing was chosen, for the referrer and the operator.
    no_candidate_reason: str | None = None


LOAD_BANDS = 20


def fairness_rank(fairness_key: str, company_id: UUID) -> bytes:
    """A per-job pseudo-random but reproducible order among otherwise equal receivers.

    Using the job as key means each job shuffles tied receivers differently, so over many jobs
    each one comes first equally often, whatever order the candidates were listed in.
    """
    return hashlib.sha256(f"{fairness_key}\x1f{company_id}".encode()).digest()


def _rejection(job: ServiceJobCreate, referrer_id: UUID, candidate: Candidate) -> RejectionReason | None:
    profile = candidate.profile
    if candidate.company_id == referrer_id:
        return RejectionReason.SAME_COMPANY
    if candidate.partnership is None or not candidate.partnership.active:
        return RejectionReason.NO_ACTIVE_PARTNERSHIP
    if referrer_id in profile.excluded_partner_ids:
        return RejectionReason.EXCLUDED_BY_RECEIVER
    if job.trade not in profile.trades:
        return RejectionReason.TRADE_NOT_OFFERED
    if not profile.service_area.covers(job.address):
        return RejectionReason.OUTSIDE_SERVICE_AREA
    if candidate.routings_today >= profile.daily_capacity:
        return RejectionReason.AT_DAILY_CAPACITY
    return None


def load_band(routings_today: int, daily_capacity: int) -> int:
    """Load in 5 % bands. Jobs created together all see the same counts: compared exactly, they
    would all pick the one least-loaded receiver; in bands, near-equal receivers tie and the
    per-job fairness hash spreads the burst among them."""
    # Exact fractions: float rounding must not decide who is less loaded.
    return int(Fraction(routings_today, daily_capacity) * LOAD_BANDS)


def _ranking_key(
    candidate: Candidate, referrer_id: UUID, now: datetime, fairness_key: str
) -> tuple[bool, bool, Fraction, int, bytes, str]:
    profile = candidate.profile
    partnership = candidate.partnership
    preferred = (
        partnership is not None and partnership.preferred_by_referrer
    ) or referrer_id in profile.preferred_partner_ids
    return (
        not preferred,
        not profile.business_hours.is_open(now),
        load_band(candidate.routings_today, profile.daily_capacity),
        (candidate.recent_routings_count or 0).bit_length(),
        fairness_rank(fairness_key, candidate.company_id),
        # Only reached on a sha256 collision; keeps the order total.
        str(candidate.company_id),
    )


def _no_candidate_reason(job: ServiceJobCreate, rejected: dict[UUID, RejectionReason]) -> str:
    where = f"ZIP {job.address.zip5} for {job.trade}"
    if not rejected:
        return f"no partner candidates for {where}"
    counts = Counter(rejected.values())
    headline = (
        f"no partner with capacity left covers {where}"
        if RejectionReason.AT_DAILY_CAPACITY in counts
        else f"no partner covers {where}"
    )
    details = ", ".join(
        f"{counts[reason]} {_REASON_LABELS[reason]}" for reason in RejectionReason if counts[reason]
    )
    noun = "candidate" if len(rejected) == 1 else "candidates"
    return f"{headline} ({len(rejected)} {noun}: {details})"


def select_receivers(
    job: ServiceJobCreate,
    referrer_id: UUID,
    candidates: Iterable[Candidate],
    now: datetime,
    mode: FanOutMode | SequentialMode,
    *,
    fairness_key: str,
) -> Selection:
    """Choose the receivers of `job`: the best fan_out_count of them for fan-out, every
    qualifying one in offer order for sequential routing. See the module docstring for rules."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not fairness_key:
        raise ValueError("fairness_key must not be empty")
    # Sorting up front makes every later step independent of the caller's list order.
    ordered = sorted(candidates, key=lambda c: str(c.company_id))
    counts = Counter(c.company_id for c in ordered)
    duplicates = sorted(str(company) for company, n in counts.items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate candidates: {', '.join(duplicates)}")

    rejected: dict[UUID, RejectionReason] = {}
    qualified: list[Candidate] = []
    for candidate in ordered:
        reason = _rejection(job, referrer_id, candidate)
        if reason is None:
            qualified.append(candidate)
        else:
            rejected[candidate.company_id] = reason

    ranked = sorted(qualified, key=lambda c: _ranking_key(c, referrer_id, now, fairness_key))
    if isinstance(mode, FanOutMode):
        for candidate in ranked[mode.fan_out_count :]:
            rejected[candidate.company_id] = RejectionReason.BEYOND_FAN_OUT
        ranked = ranked[: mode.fan_out_count]

    chosen = [c.company_id for c in ranked]
    return Selection(
        chosen=chosen,
        rejected=dict(sorted(rejected.items(), key=lambda item: str(item[0]))),
        no_candidate_reason=None if chosen else _no_candidate_reason(job, rejected),
    )
