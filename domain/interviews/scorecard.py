"""The scorecard an analysis produces, and the checks that make it evidence-backed.

A language model answers `ModelAnswer` (its JSON schema is what the provider is asked for, strict).
Nothing is invented around it: an answer that does not parse or breaks the schema is refused, and
so is one that quotes anything the transcript does not say. Published checks find about 30 % of
model "quotes" are not in the transcript; here a quote is accepted only when its words occur, in
order and contiguous, in the transcript (case, punctuation and spacing aside), and it is then
pinned to the time and speaker where it was said. A refused answer is the provider's failure: the
analysis falls back to the next provider, and never to a made-up score.
"""

import math
import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from domain.interviews.rubric import Competency, Rubric
from domain.interviews.transcripts import Transcript

Quote = Annotated[str, StringConstraints(min_length=3, max_length=600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Judged(_Strict):
    """One judgement with the words it rests on."""

    point: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    quotes: list[Quote] = Field(min_length=1, max_length=5)


class Rated(_Strict):
    # One of the competency's level scores (the rubric's; answer_schema lists them).
    level: int
    rationale: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    quotes: list[Quote] = Field(min_length=1, max_length=5)


class Recommendation(StrEnum):
    STRONG_HIRE = "strong_hire"
    HIRE = "hire"
    NO_HIRE = "no_hire"
    STRONG_NO_HIRE = "strong_no_hire"


class ModelAnswer(_Strict):
    """What the model is asked to answer (OpenAI strict json_schema, Anthropic tool input).
    `ratings` has one property per competency of the rubric (answer_schema): a model held to the
    schema can neither skip a competency nor rate one twice. `recommendation` is in the schema
    only when the tenant asks for one (off by default)."""

    ratings: dict[str, Rated] = Field(min_length=1)
    strengths: list[Judged]
    concerns: list[Judged]
    summary: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    recommendation: Recommendation | None = None


class Evidence(_Strict):
    quote: str
    speaker: str
    start: float
    end: float


class Rating(_Strict):
    competency: str
    weight: float
    level: int
    rationale: str
    evidence: list[Evidence]


class Finding(_Strict):
    point: str
    evidence: list[Evidence]


class Scorecard(_Strict):
    ratings: list[Rating]
    strengths: list[Finding]
    concerns: list[Finding]
    summary: str
    # The rubric's weighted mean level, from 0 (every competency at the lowest level) to 100.
    score: float
    recommendation: Recommendation | None = None


class Refused(Exception):
    """The model's answer cannot stand as a scorecard; `reason` says why (for the record, and to
    decide the fallback)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


def answer_schema(rubric: Rubric, *, recommend: bool = False) -> dict[str, Any]:
    """ModelAnswer's JSON schema for a rubric, as OpenAI's strict structured outputs take it:
    `ratings` an object with one required property per competency, each level one of that
    competency's scores, every object closed and every property required; `recommendation` one
    of its values when asked for, else absent (so an answer that gives one breaks the schema)."""
    schema = ModelAnswer.model_json_schema()
    if recommend:
        schema["properties"]["recommendation"] = {"type": "string", "enum": [r.value for r in Recommendation]}
    else:
        del schema["properties"]["recommendation"]
    schema["$defs"].pop("Recommendation", None)
    rated = schema["$defs"]["Rated"]
    schema["properties"]["ratings"] = {
        "type": "object",
        "properties": {
            c.name: {
                **rated,
                "properties": {**rated["properties"], "level": {"type": "integer", "enum": _scores(c)}},
            }
            for c in rubric.competencies
        },
    }
    return _strict(schema)


def _scores(competency: Competency) -> list[int]:
    return [level.score for level in competency.levels]


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items() if key not in ("title", "default")}
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def parse(text: str) -> ModelAnswer:
    """The model's raw answer, or Refused (invalid JSON, or JSON the schema does not allow)."""
    try:
        return ModelAnswer.model_validate_json(text)
    except ValidationError as exc:
        kinds = {error["type"] for error in exc.errors()}
        kind = "invalid_json" if "json_invalid" in kinds else "schema_violation"
        raise Refused(kind, str(exc.errors()[0]["msg"])[:300]) from None


def scorecard(
    answer: ModelAnswer, transcript: Transcript, rubric: Rubric, *, recommend: bool = False
) -> Scorecard:
    """The answer checked against the transcript and the rubric: every competency rated once at
    one of its levels, none invented, every quote found (and placed), a recommendation exactly
    when asked for; else Refused. The score is the weighted mean of each rating's place on its
    competency's scale, 0 to 100."""
    if recommend != (answer.recommendation is not None):
        wrong = "asked for but not given" if recommend else "given but not asked for"
        raise Refused("schema_violation", f"a recommendation was {wrong}")
    competencies = {c.name: c for c in rubric.competencies}
    if set(answer.ratings) != set(competencies):
        missing = sorted(set(competencies) - set(answer.ratings))
        extra = sorted(set(answer.ratings) - set(competencies))
        raise Refused("schema_violation", f"competencies missing {missing}, not in the rubric {extra}")
    for name, rated in answer.ratings.items():
        if rated.level not in _scores(competencies[name]):
            raise Refused("schema_violation", f"{name}: {rated.level} is not one of its levels")
    index = _Index(transcript)
    ratings = [
        Rating(
            competency=name,
            weight=competencies[name].weight,
            level=r.level,
            rationale=r.rationale,
            evidence=index.find_all(r.quotes),
        )
        for name, r in answer.ratings.items()
    ]
    return Scorecard(
        ratings=ratings,
        strengths=[Finding(point=j.point, evidence=index.find_all(j.quotes)) for j in answer.strengths],
        concerns=[Finding(point=j.point, evidence=index.find_all(j.quotes)) for j in answer.concerns],
        summary=answer.summary,
        score=_score(ratings, rubric),
        recommendation=answer.recommendation,
    )


def combine(cards: Sequence[tuple[Scorecard, float]], rubric: Rubric) -> Scorecard:
    """One scorecard from those of a long transcript's parts, each with the part's length: each
    competency at the level nearest the parts' length-weighted mean level (a level of its scale:
    never a score between them), with every part's rationale and evidence; the findings and
    summaries of all parts in order; the most cautious recommendation given. The score is
    computed from the combined levels as for one card."""
    total = math.fsum(length for _, length in cards) or 1.0
    ratings = []
    for competency in rubric.competencies:
        rated = [
            (r, length) for card, length in cards for r in card.ratings if r.competency == competency.name
        ]
        mean = math.fsum(r.level * length for r, length in rated) / total
        ratings.append(
            Rating(
                competency=competency.name,
                weight=competency.weight,
                level=min(_scores(competency), key=lambda score: (abs(score - mean), score)),
                rationale="\n".join(r.rationale for r, _ in rated),
                evidence=[e for r, _ in rated for e in r.evidence],
            )
        )
    given = [card.recommendation for card, _ in cards if card.recommendation is not None]
    order = list(Recommendation)
    return Scorecard(
        ratings=ratings,
        strengths=[f for card, _ in cards for f in card.strengths],
        concerns=[f for card, _ in cards for f in card.concerns],
        summary="\n\n".join(card.summary for card, _ in cards),
        score=_score(ratings, rubric),
        recommendation=max(given, key=order.index) if given else None,
    )


def _score(ratings: Sequence[Rating], rubric: Rubric) -> float:
    competencies = {c.name: c for c in rubric.competencies}
    placed = 0.0
    for rating in ratings:
        lowest, *_, highest = _scores(competencies[rating.competency])
        placed += rating.weight * (rating.level - lowest) / (highest - lowest)
    return round(100 * placed / math.fsum(c.weight for c in rubric.competencies), 1)


def words_of(text: str) -> list[str]:
    """A text's words as quotes are compared: letters and digits, case-folded, accents kept."""
    return re.findall(r"\w+(?:'\w+)?", unicodedata.normalize("NFKC", text).casefold())


class _Index:
    """The transcript's words in order, each with where it was said."""

    def __init__(self, transcript: Transcript) -> None:
        self.words: list[str] = []
        self.places: list[tuple[str, float, float]] = []
        for segment in transcript.segments:
            timed = segment.words or []
            words = words_of(segment.text)
            for n, word in enumerate(words):
                self.words.append(word)
                # Word times when the provider gave them (matched by position within the segment),
                # else the segment's.
                if len(timed) == len(words):
                    self.places.append((segment.speaker, timed[n].start, timed[n].end))
                else:
                    self.places.append((segment.speaker, segment.start, segment.end))

    def find_all(self, quotes: Sequence[str]) -> list[Evidence]:
        return [self.find(quote) for quote in quotes]

    def find(self, quote: str) -> Evidence:
        wanted = words_of(quote)
        if not wanted:
            raise Refused("invented_quote", f"{quote[:80]!r} has no words")
        first, length = wanted[0], len(wanted)
        for i, word in enumerate(self.words):
            if word == first and self.words[i : i + length] == wanted:
                speaker, start, _ = self.places[i]
                _, _, end = self.places[i + length - 1]
                return Evidence(quote=quote, speaker=speaker, start=start, end=end)
        raise Refused("invented_quote", f"{quote[:80]!r} is not in the transcript")
