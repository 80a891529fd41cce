"""A recommendation only when the tenant asks for one; a transcript too long for one prompt cut
into parts (never inside a segment); the parts' scorecards combined into one at levels of the
rubric's scales, with every part's evidence, and the score computed, not averaged."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.interviews.prompts import parts, render
from domain.interviews.scorecard import Recommendation, Refused, answer_schema, combine, parse, scorecard
from tests.unit.test_scorecard import RUBRIC, _answer, _transcript


def test_a_recommendation_is_in_the_schema_and_the_answer_exactly_when_asked_for() -> None:
    assert "recommendation" not in answer_schema(RUBRIC)["properties"]
    asked = answer_schema(RUBRIC, recommend=True)
    assert asked["properties"]["recommendation"]["enum"] == [r.value for r in Recommendation]
    assert "recommendation" in asked["required"]
    assert "hiring recommendation" in render(_transcript(), "Engineer", RUBRIC, recommend=True)
    assert "hiring recommendation" not in render(_transcript(), "Engineer", RUBRIC)

    given_one = parse(json.dumps(_answer(recommendation="hire")))
    card = scorecard(given_one, _transcript(), RUBRIC, recommend=True)
    assert card.recommendation == Recommendation.HIRE
    with pytest.raises(Refused, match="given but not asked for"):
        scorecard(given_one, _transcript(), RUBRIC)
    with pytest.raises(Refused, match="asked for but not given"):
        scorecard(parse(json.dumps(_answer())), _transcript(), RUBRIC, recommend=True)


@given(st.integers(min_value=1, max_value=400))
def test_parts_fit_the_budget_and_join_back_into_the_transcript(budget: int) -> None:
    whole = _transcript()
    cut = parts(whole, budget)
    assert [s for part in cut for s in part.segments] == whole.segments
    for part in cut:
        lines = render(part, "", RUBRIC).split("speaks first)\n", 1)[1]
        assert len(part.segments) == 1 or len(lines) + 1 <= budget
    assert len(parts(whole, 10_000)) == 1


def test_parts_combine_at_a_level_of_each_scale_with_all_their_evidence() -> None:
    whole = _transcript()
    low = scorecard(parse(json.dumps(_answer(recommendation="no_hire"))), whole, RUBRIC, recommend=True)
    high = scorecard(parse(json.dumps(_answer(recommendation="hire"))), whole, RUBRIC, recommend=True)
    low = low.model_copy(update={"ratings": [r.model_copy(update={"level": 1}) for r in low.ratings]})
    # Three times as much of the interview rated 4 as rated 1 (Ownership): mean 3.25, nearest
    # level 3; Communication 2 and 1: mean 1.75, level 2.
    card = combine([(low, 10.0), (high, 30.0)], RUBRIC)
    assert {r.competency: r.level for r in card.ratings} == {"Ownership": 3, "Communication": 2}
    assert card.score == pytest.approx(100 * (0.6 * 2 / 3 + 0.4 * 1 / 3), abs=0.1)
    assert card.recommendation == Recommendation.NO_HIRE
    ownership = next(r for r in card.ratings if r.competency == "Ownership")
    assert len(ownership.evidence) == sum(
        len(r.evidence) for c in (low, high) for r in c.ratings if r.competency == "Ownership"
    )
    assert card.strengths == low.strengths + high.strengths
