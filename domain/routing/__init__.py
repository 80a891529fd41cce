"""Routing: pure rules for sending a referred service job to partner companies."""

from domain.routing.fees import FeeKind, FeeTerms, referral_fee
from domain.routing.geo import RadiusArea, ServiceArea, ZipCodeArea, haversine_km
from domain.routing.hours import BusinessHours, OpeningInterval, Weekday
from domain.routing.models import Address, Homeowner, ServiceJobCreate, TimeWindow, Trade
from domain.routing.partners import Candidate, Partnership, RoutingProfile
from domain.routing.provider_status import map_servicetitan_job_status
from domain.routing.selection import (
    ROUTING_MODE,
    FanOutMode,
    RejectionReason,
    RoutingMode,
    Selection,
    SequentialMode,
    select_receivers,
)
from domain.routing.status import (
    TERMINAL_STATUSES,
    InvalidTransition,
    RoutingEvent,
    RoutingStatus,
    is_terminal,
    provider_event,
    transition,
)

__all__ = [
    "ROUTING_MODE",
    "TERMINAL_STATUSES",
    "Address",
    "BusinessHours",
    "Candidate",
    "FanOutMode",
    "FeeKind",
    "FeeTerms",
    "Homeowner",
    "InvalidTransition",
    "OpeningInterval",
    "Partnership",
    "RadiusArea",
    "RejectionReason",
    "RoutingEvent",
    "RoutingMode",
    "RoutingProfile",
    "RoutingStatus",
    "Selection",
    "SequentialMode",
    "ServiceArea",
    "ServiceJobCreate",
    "TimeWindow",
    "Trade",
    "Weekday",
    "ZipCodeArea",
    "haversine_km",
    "is_terminal",
    "map_servicetitan_job_status",
    "provider_event",
    "referral_fee",
    "select_receivers",
    "transition",
]
