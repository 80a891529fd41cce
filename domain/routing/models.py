"""The service job a referring technician creates, and the values it is made of."""

import re
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, BeforeValidator, Field, field_validator, model_validator

from domain.routing.base import RoutingModel, field_error


class Trade(StrEnum):
    PLUMBING = "plumbing"
    ELECTRICAL = "electrical"
    HVAC = "hvac"
    ROOFING = "roofing"
    LANDSCAPING = "landscaping"
    PEST_CONTROL = "pest_control"
    APPLIANCE_REPAIR = "appliance_repair"
    HANDYMAN = "handyman"
    CLEANING = "cleaning"
    PAINTING = "painting"
    GARAGE_DOOR = "garage_door"
    LOCKSMITH = "locksmith"


# USPS codes of the states, DC and the inhabited territories.
# fmt: off
US_STATE_CODES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR", "VI", "GU", "AS", "MP",
})
# fmt: on

_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-]+$")
# Deliberately simple: catches typos and garbage; whether the mailbox exists is for the mail server.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


class Address(RoutingModel):
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(description="USPS two-letter code, e.g. CA")
    zip: str = Field(description="ZIP or ZIP+4, e.g. 94107 or 94107-1234")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            if value not in US_STATE_CODES:
                raise ValueError("state must be a two-letter US state code")
        return value

    @field_validator("zip")
    @classmethod
    def _zip(cls, value: str) -> str:
        if not _ZIP.match(value):
            raise ValueError("zip must be a US ZIP code (12345 or 12345-6789)")
        return value

    @model_validator(mode="after")
    def _coordinates_together(self) -> "Address":
        if (self.lat is None) != (self.lon is None):
            missing = "lon" if self.lon is None else "lat"
            raise field_error("Address", missing, "lat and lon must be given together", None)
        return self

    @property
    def zip5(self) -> str:
        return self.zip[:5]


def _blank_is_none(value: object) -> object:
    # Forms send "" for an empty optional input; it means "not given", not "invalid".
    if isinstance(value, str) and not value.strip():
        return None
    return value


def normalize_us_phone(raw: str) -> str:
    """A US phone number in any common notation, as E.164 (+1XXXXXXXXXX)."""
    if not _PHONE_CHARS.match(raw):
        raise ValueError("phone may contain only digits, spaces and + ( ) - .")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+") and not digits.startswith("1"):
        raise ValueError("only US phone numbers (+1) are supported")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValueError("phone must have 10 digits (US), optionally preceded by 1 or +1")
    # NANP: neither the area code nor the exchange may start with 0 or 1.
    if digits[0] in "01" or digits[3] in "01":
        raise ValueError("phone is not a valid US number")
    return "+1" + digits


class Homeowner(RoutingModel):
    name: str = Field(min_length=1, max_length=100)
    phone: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, max_length=32, description="normalised to E.164, e.g. +14155550134"
    )
    email: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(default=None, max_length=254)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalize_us_phone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("email is not a valid address")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> "Homeowner":
        # The receiver has to be able to reach the homeowner to book the job.
        if self.phone is None and self.email is None:
            message = "missing homeowner contact: give a phone or an email"
            raise field_error("Homeowner", "phone", message, None)
        return self


class TimeWindow(RoutingModel):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> "TimeWindow":
        if self.start >= self.end:
            raise field_error("TimeWindow", "end", "end must be after start", self.end)
        return self


class ServiceJobCreate(RoutingModel):
    summary: str = Field(min_length=1, max_length=200)
    trade: Trade
    address: Address
    homeowner: Homeowner
    technician_id: UUID | None = None
    preferred_window: TimeWindow | None = None
    notes: str = Field(default="", max_length=2000)
