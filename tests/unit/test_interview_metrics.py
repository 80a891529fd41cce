"""A failed interview attempt is counted under one of a few reasons, found behind the
ApplicationError the activity turned it into: alerts select provider trouble (rate limits,
outages, credentials) apart from answers that could not stand and recordings that hold nothing."""

import pytest
from temporalio.exceptions import ApplicationError

from activities.interview_metrics import reason
from activities.interviews import refused
from clients.refusals import ProviderRefused
from domain.interviews.scorecard import Refused


def _raised(cause: Exception) -> ApplicationError:
    """What the activities raise: the ApplicationError, its cause kept only as context."""
    try:
        try:
            raise cause
        except ProviderRefused as exc:
            raise refused(exc) from None
        except Refused as exc:
            raise ApplicationError(str(exc), type=exc.kind, non_retryable=True) from None
    except ApplicationError as error:
        return error
    raise AssertionError("not raised")


@pytest.mark.parametrize(
    ("status", "retryable", "expected"),
    [
        (429, True, "rate_limited"),
        (529, True, "unavailable"),
        (503, True, "unavailable"),
        (408, True, "unavailable"),
        (None, True, "unavailable"),  # a timeout or a lost connection
        (401, False, "unauthorized"),
        (403, False, "unauthorized"),
        (400, False, "rejected"),
        (None, False, "refused"),  # a model's refusal
    ],
)
def test_a_providers_refusal_is_counted_by_its_kind(status: int | None, retryable: bool, expected: str):
    refusal = ProviderRefused("openai", status, "no", retryable=retryable)
    assert refusal.kind == expected
    assert reason(_raised(refusal)) == expected


@pytest.mark.parametrize("kind", ["invalid_json", "schema_violation", "invented_quote"])
def test_an_answer_that_cannot_stand_is_counted_by_what_was_wrong(kind: str):
    assert reason(_raised(Refused(kind, "why"))) == kind


def test_other_failures_are_counted_by_their_type_or_as_ours():
    assert reason(ApplicationError("silence", type="NoSpeech")) == "no_speech"
    assert reason(ApplicationError("bad file", type="UnusableRecording")) == "unusable_recording"
    assert reason(ConnectionRefusedError("the store is down")) == "internal"
