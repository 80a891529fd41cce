"""The LLM emulators' default answers: which sentences of a prompt they quote, and values valid
for the JSON schemas structured outputs and tools use."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from emulators.llm import SchemaInstance, quotable_sentences


def test_transcript_lines_are_quoted_without_their_timestamps_and_speakers() -> None:
    prompt = """Score this interview against the rubric below.
Communication: explains ideas clearly to any audience.
[00:00:01] Interviewer: Tell me about a hard migration you led.
00:05 Candidate: We moved billing to a new database. It took four months!
Speaker 1 (00:09-00:12): How did you test that change?
Jane Doe (candidate): We replayed real traffic every night.
"""
    # timestamped lines win over labelled ones (a rubric line looks labelled too)
    assert quotable_sentences(prompt) == [
        "Tell me about a hard migration you led.",
        "We moved billing to a new database.",
        "It took four months!",
    ]
    labelled = prompt.replace("[00:00:01] ", "").replace("00:05 ", "")
    assert quotable_sentences(labelled)[-2:] == [
        "How did you test that change?",
        "We replayed real traffic every night.",
    ]
    as_json = '{"segments": [{"speaker": "A", "text": "I wrote the \\"runbook\\" myself."}]}'
    assert quotable_sentences(as_json) == ['I wrote the "runbook" myself.']
    assert quotable_sentences("Just one line of instructions here.") == [
        "Just one line of instructions here."
    ]


class Quote(BaseModel):
    text: str
    start: float = Field(ge=0, le=3600)


class Item(BaseModel):
    level: Literal["low", "mid", "high"]
    score: int = Field(ge=1, le=5)
    weight: float = Field(gt=0, lt=1)
    quotes: list[Quote] = Field(min_length=3)
    note: str | None
    tags: list[str] = Field(max_length=1)


def test_values_are_valid_for_pydantic_schemas_with_refs_unions_and_bounds() -> None:
    schema = Item.model_json_schema()
    value = SchemaInstance(schema, ["First sentence here.", "Second one too."]).build()
    item = Item.model_validate(value)
    assert (item.level, item.score, len(item.quotes), len(item.tags)) == ("low", 3, 3, 1)
    assert item.note == "First sentence here." or item.note == "Second one too."
    assert {q.text for q in item.quotes} <= {"First sentence here.", "Second one too."}
