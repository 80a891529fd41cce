"""The scorecard's checks: an answer that does not parse, breaks the schema, misses or invents a
competency, or quotes what was not said is refused (never patched into a made-up score); quotes
that were said are placed at their time and speaker."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.interviews.rubric import Competency, Level, Rubric
from domain.interviews.scorecard import Refused, answer_schema, parse, scorecard, words_of
from domain.interviews.transcripts import Segment, Transcript, Word

SAID = [
    ("S1", "Tell me about a time you led a migration."),
    ("S2", "I led our billing migration to Postgres, and we cut the cost by half."),
    ("S1", "What went wrong?"),
    ("S2", "We underestimated the data checks; I added a dry run that caught three bugs."),
]


def _transcript() -> Transcript:
    segments, at = [], 0.0
    for speaker, text in SAID:
        words = [
            Word(text=w, start=at + n * 0.5, end=at + n * 0.5 + 0.4, confidence=0.9)
            for n, w in enumerate(text.split())
        ]
        segments.append(
            Segment(speaker=speaker, start=at, end=words[-1].end, text=text, confidence=0.9, words=words)
        )
        at = words[-1].end + 1
    return Transcript(
        provider="local", model="whisper-tiny.en", language="en-US", duration=at, segments=segments
    )


RUBRIC = Rubric(
    competencies=[
        Competency(
            name=name,
            weight=weight,
            levels=[Level(score=n, description=d) for n, d in enumerate(scale, start=1)],
        )
        for name, weight, scale in (
            ("Ownership", 0.6, ["none", "some", "clear", "drives it"]),
            ("Communication", 0.4, ["unclear", "adequate", "clear", "compelling"]),
        )
    ]
)
WEIGHTS = {c.name: c.weight for c in RUBRIC.competencies}


def _answer(**changes: object) -> dict[str, object]:
    answer = {
        "ratings": {
            "Ownership": {
                "level": 4,
                "rationale": "Led it.",
                "quotes": ["I led our billing migration"],
            },
            "Communication": {"level": 2, "rationale": "Terse.", "quotes": ["we cut the cost by half"]},
        },
        "strengths": [{"point": "Caught bugs early", "quotes": ["I added a dry run that caught three bugs"]}],
        "concerns": [{"point": "Planning", "quotes": ["We underestimated the data checks"]}],
        "summary": "Strong owner.",
    }
    return {**answer, **changes}


def test_a_grounded_answer_becomes_a_scorecard_with_placed_evidence() -> None:
    card = scorecard(parse(json.dumps(_answer())), _transcript(), RUBRIC)
    # Ownership at 4 of 1..4 (weight 0.6), Communication at 2 (0.4): (0.6*3 + 0.4*1) / 3.
    assert card.score == pytest.approx(73.3)
    [ownership, _] = card.ratings
    evidence = ownership.evidence[0]
    # "I led our billing migration": the second turn's first five words (it starts at 5.4 s).
    assert (evidence.speaker, evidence.start) == ("S2", pytest.approx(5.4))
    assert evidence.end == pytest.approx(5.4 + 4 * 0.5 + 0.4)
    assert card.strengths[0].evidence[0].speaker == "S2"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("{not json", "invalid_json"),
        (json.dumps(_answer(summary="")), "schema_violation"),
        (json.dumps({**_answer(), "score": 50}), "schema_violation"),  # nothing beyond the schema
        (json.dumps(_answer(strengths=None)), "schema_violation"),  # strengths are never dropped
    ],
)
def test_an_answer_that_does_not_parse_or_breaks_the_schema_is_refused(text: str, kind: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(text)
    assert refused.value.kind == kind


def test_invented_quotes_and_competencies_are_refused() -> None:
    invented = _answer(concerns=[{"point": "Arrogant", "quotes": ["I never make mistakes"]}])
    with pytest.raises(Refused, match="not in the transcript") as refused:
        scorecard(parse(json.dumps(invented)), _transcript(), RUBRIC)
    assert refused.value.kind == "invented_quote"
    # Words that are all there, but not together, are not a quote.
    stitched = _answer(strengths=[{"point": "x", "quotes": ["I led the dry run"]}])
    with pytest.raises(Refused):
        scorecard(parse(json.dumps(stitched)), _transcript(), RUBRIC)
    charisma = {"level": 3, "rationale": "x", "quotes": ["What went wrong?"]}
    extra = _answer(ratings={**_answer()["ratings"], "Charisma": charisma})  # type: ignore[dict-item]
    with pytest.raises(Refused, match="not in the rubric"):
        scorecard(parse(json.dumps(extra)), _transcript(), RUBRIC)
    with pytest.raises(Refused, match="missing"):
        scorecard(
            parse(json.dumps(_answer(ratings={"Ownership": _answer()["ratings"]["Ownership"]}))),
            _transcript(),
            RUBRIC,
        )  # type: ignore[index]
    off_scale = _answer(ratings={**_answer()["ratings"], "Communication": {**charisma, "level": 7}})  # type: ignore[dict-item]
    with pytest.raises(Refused, match="not one of its levels"):
        scorecard(parse(json.dumps(off_scale)), _transcript(), RUBRIC)


def test_case_punctuation_and_spacing_do_not_matter_but_words_do() -> None:
    card = scorecard(
        parse(
            json.dumps(_answer(concerns=[{"point": "p", "quotes": ["we  UNDERESTIMATED the data-checks"]}]))
        ),
        _transcript(),
        RUBRIC,
    )
    assert card.concerns[0].evidence[0].start == pytest.approx(15.7)  # the last turn's start


@given(st.data())
def test_any_run_of_said_words_is_found_where_it_was_said(data: st.DataObject) -> None:
    transcript = _transcript()
    turn = data.draw(st.integers(0, len(SAID) - 1))
    words = SAID[turn][1].split()
    first = data.draw(st.integers(0, len(words) - 1))
    last = data.draw(st.integers(first, len(words) - 1))
    quote = " ".join(words[first : last + 1])
    if len(quote) < 3 or not words_of(quote):
        return  # not a quote the schema takes
    answer = _answer(strengths=[{"point": "p", "quotes": [quote]}])
    evidence = scorecard(parse(json.dumps(answer)), transcript, RUBRIC).strengths[0].evidence[0]
    segment = transcript.segments[turn]
    # The first occurrence: a run said earlier too is placed there, which is still said.
    assert evidence.start <= segment.words[first].start
    assert evidence.speaker in {"S1", "S2"}


def test_the_schema_is_strict_as_openai_requires() -> None:
    schema = answer_schema(RUBRIC)
    assert set(schema["properties"]["ratings"]["required"]) == set(WEIGHTS)

    def objects(node: object) -> list[dict[str, object]]:
        found = []
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                found.append(node)
            for value in node.values():
                found += objects(value)
        elif isinstance(node, list):
            for item in node:
                found += objects(item)
        return found

    for node in objects(schema):
        assert node["additionalProperties"] is False
        assert set(node["required"]) == set(node["properties"])  # type: ignore[arg-type]
