"""What a receiving company owes the referrer for a routed job."""

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import Field, model_validator

from domain.routing.base import RoutingModel, field_error

CENT = Decimal("0.01")


class FeeKind(StrEnum):
    FLAT = "flat"  # a fixed amount per completed job, in dollars
    PERCENT = "percent"  # a share of the invoice total


class FeeTerms(RoutingModel):
    kind: FeeKind
    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=4, allow_inf_nan=False)

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> "FeeTerms":
        if self.kind is FeeKind.PERCENT and self.amount > 100:
            raise field_error("FeeTerms", "amount", "a percent fee cannot exceed 100", self.amount)
        return self


def referral_fee(terms: FeeTerms, invoice_total: Decimal) -> Decimal:
    """The fee in dollars, rounded to cents half-up (as invoices are).

    A flat fee is not capped at the invoice total: the terms are what the companies agreed.
    """
    if not invoice_total.is_finite() or invoice_total < 0:
        raise ValueError(f"invoice_total must be a non-negative amount, got {invoice_total}")
    fee = terms.amount if terms.kind is FeeKind.FLAT else invoice_total * terms.amount / 100
    return fee.quantize(CENT, rounding=ROUND_HALF_UP)
