from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.routing import FeeKind, FeeTerms, referral_fee


@pytest.mark.parametrize(
    ("kind", "amount", "invoice", "fee"),
    [
        ("flat", "25", "1000", "25.00"),
        ("flat", "25", "10", "25.00"),  # a flat fee is what was agreed, not capped by the invoice
        ("percent", "10", "1234.56", "123.46"),  # 123.456 rounds up
        ("percent", "12.5", "100.02", "12.50"),  # 12.5025 rounds down
        ("percent", "10", "0.05", "0.01"),  # exactly half a cent rounds up
        ("percent", "0", "999", "0.00"),
        ("percent", "100", "80.10", "80.10"),
    ],
)
def test_referral_fee(kind: str, amount: str, invoice: str, fee: str) -> None:
    terms = FeeTerms(kind=FeeKind(kind), amount=Decimal(amount))
    assert referral_fee(terms, Decimal(invoice)) == Decimal(fee)


@pytest.mark.parametrize(("kind", "amount"), [("flat", "-1"), ("percent", "-0.01"), ("percent", "100.01")])
def test_out_of_range_amount_names_the_field(kind: str, amount: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        FeeTerms(kind=FeeKind(kind), amount=Decimal(amount))
    assert [error["loc"] for error in excinfo.value.errors()] == [("amount",)]


@pytest.mark.parametrize("amount", ["NaN", "Infinity"])
def test_non_finite_amount_is_rejected(amount: str) -> None:
    with pytest.raises(ValidationError):
        FeeTerms(kind=FeeKind.FLAT, amount=Decimal(amount))


def test_unknown_fee_kind_is_rejected() -> None:
    with pytest.raises(ValidationError) as excinfo:
        FeeTerms.model_validate({"kind": "tiered", "amount": "5"})
    assert [error["loc"] for error in excinfo.value.errors()] == [("kind",)]


@pytest.mark.parametrize("invoice", [Decimal("-1"), Decimal("NaN")])
def test_invoice_total_must_be_a_non_negative_amount(invoice: Decimal) -> None:
    with pytest.raises(ValueError, match="invoice_total"):
        referral_fee(FeeTerms(kind=FeeKind.FLAT, amount=Decimal(5)), invoice)


@given(
    percent=st.decimals(min_value=0, max_value=100, places=2),
    invoice=st.decimals(min_value=0, max_value=10**7, places=2),
)
def test_percent_fee_is_in_cents_and_never_exceeds_the_invoice(percent: Decimal, invoice: Decimal) -> None:
    fee = referral_fee(FeeTerms(kind=FeeKind.PERCENT, amount=percent), invoice)
    assert fee == fee.quantize(Decimal("0.01"))
    assert Decimal(0) <= fee <= invoice
    assert abs(fee - invoice * percent / 100) <= Decimal("0.005")
