"""The interviews domain's pure rules: rubric weights, language tags, phone numbers, and which
probed audio is accepted."""

import pytest
from pydantic import ValidationError

from domain.interviews.contracts import CandidateIn
from domain.interviews.language import language_tag
from domain.interviews.recordings import AudioFacts, Refused, check
from domain.interviews.rubric import Rubric
from tests.interviews.conftest import RUBRIC

LEVELS = RUBRIC["competencies"][0]["levels"]


def rubric(*weights: float) -> Rubric:
    return Rubric.model_validate(
        {"competencies": [{"name": f"c{i}", "weight": w, "levels": LEVELS} for i, w in enumerate(weights)]}
    )


def test_weights_within_the_tolerance_are_normalised_to_sum_to_one() -> None:
    for weights in ((0.333, 0.333, 0.333), (0.33, 0.33, 0.34), (1.0,), (0.5, 0.505)):
        normalised = [c.weight for c in rubric(*weights).competencies]
        assert sum(normalised) == pytest.approx(1, abs=1e-12)
        assert normalised[0] / normalised[-1] == pytest.approx(weights[0] / weights[-1])


def test_weights_that_do_not_sum_to_one_are_refused_with_their_sum() -> None:
    for weights in ((0.5, 0.6), (0.2, 0.3), (0.98,)):
        with pytest.raises(ValidationError, match=f"sum to {sum(weights):g}"):
            rubric(*weights)


def test_language_tags_are_canonical() -> None:
    assert [language_tag(t) for t in ("en-us", "PT-br", "zh-hant-tw", "es-419", "de")] == [
        "en-US",
        "pt-BR",
        "zh-Hant-TW",
        "es-419",
        "de",
    ]
    for bad in ("english", "en_US", "e", "en-", "en-US-x-private-thing-too-long"):
        with pytest.raises(ValueError, match="BCP-47"):
            language_tag(bad)


def test_phone_numbers_take_separators_but_need_digits() -> None:
    for phone in ("+1 (555) 010-2030", "0049 30 1234567", "+44.20.7946.0958"):
        assert CandidateIn(name="P", email="p@example.com", phone=phone).phone == phone
    for phone in ("call me", "12345", "+1 555 010 2030 4444 5"):
        with pytest.raises(ValidationError, match="phone number"):
            CandidateIn(name="P", email="p@example.com", phone=phone)


def facts(**change: object) -> AudioFacts:
    return AudioFacts.model_validate(
        {"container": "ogg", "codec": "opus", "duration_seconds": 60, "channels": 1, "sample_rate": 48000}
        | change
    )


def test_accepted_audio() -> None:
    check(facts(), max_seconds=3600)
    for change, title in (
        ({"codec": "vorbis"}, "Unsupported audio format"),
        ({"codec": "aac"}, "Unsupported audio format"),  # AAC in Ogg is no M4A
        ({"duration_seconds": 0.5}, "Audio too short"),
        ({"duration_seconds": 3601}, "Audio too long"),
        ({"channels": 0}, "Unsupported audio format"),
    ):
        with pytest.raises(Refused) as refused:
            check(facts(**change), max_seconds=3600)
        assert refused.value.title == title
