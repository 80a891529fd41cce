"""What tempoline knows about a receiving company when it routes a job."""

from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, model_validator

from domain.routing.base import RoutingModel, field_error, sorted_unique
from domain.routing.fees import FeeTerms
from domain.routing.geo import ServiceArea
from domain.routing.hours import BusinessHours
from domain.routing.models import Trade

CompanyIds = Annotated[tuple[UUID, ...], AfterValidator(sorted_unique)]


class RoutingProfile(RoutingModel):
    """A receiving company's routing settings."""

    trades: Annotated[tuple[Trade, ...], AfterValidator(sorted_unique)] = Field(min_length=1)
    service_area: ServiceArea
    business_hours: BusinessHours
    # 0 is allowed: it pauses routing to the company without deleting its profile.
    daily_capacity: int = Field(ge=0, le=100_000, strict=True)
    # Referring companies this receiver wants first, or never wants, jobs from.
    preferred_partner_ids: CompanyIds = Field(default=(), max_length=10_000)
    excluded_partner_ids: CompanyIds = Field(default=(), max_length=10_000)

    @model_validator(mode="after")
    def _not_both_preferred_and_excluded(self) -> "RoutingProfile":
        both = set(self.preferred_partner_ids) & set(self.excluded_partner_ids)
        if both:
            raise field_error(
                "RoutingProfile",
                "excluded_partner_ids",
                "a partner cannot be both preferred and excluded",
                sorted(str(company) for company in both),
            )
        return self

    @property
    def timezone(self) -> str:
        # The zone lives in business_hours, whose opening times are meaningless without it.
        return self.business_hours.timezone


class Partnership(RoutingModel):
    """The agreement between the referring company and one receiver."""

    active: bool = Field(strict=True)
    fee_terms: FeeTerms
    # The referrer marked this receiver as a preferred partner.
    preferred_by_referrer: bool = Field(default=False, strict=True)


class Candidate(RoutingModel):
    company_id: UUID
    profile: RoutingProfile
    # None: the two companies have no partnership at all.
    partnership: Partnership | None = None
    routings_today: int = Field(ge=0, strict=True)
    # Routings recently sent to this company (the window is the caller's choice); spreads work
    # among partners that are otherwise equal. None counts as none.
    recent_routings_count: int | None = Field(default=None, ge=0, strict=True)
