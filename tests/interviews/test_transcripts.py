"""The transcript model's rules and its pure helpers (stitching chunks, numbering speakers, turns)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.interviews.transcripts import Segment, Transcript, Word, merge_turns, number_speakers, stitch


def segment(speaker: str, start: float, end: float, *words: tuple[str, float]) -> Segment:
    return Segment(
        speaker=speaker,
        start=start,
        end=end,
        text=" ".join(text for text, _ in words),
        confidence=0.5,
        words=[
            Word(text=text, start=start + i * 0.1, end=start + i * 0.1 + 0.1, confidence=confidence)
            for i, (text, confidence) in enumerate(words)
        ],
    )


def test_a_span_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError):
        Word(text="hi", start=2.0, end=1.0, confidence=0.9)
    with pytest.raises(ValidationError):
        Segment(speaker="S1", start=2.0, end=1.0, text="hi", confidence=0.9)
    with pytest.raises(ValidationError):
        Word(text="hi", start=0.0, end=1.0, confidence=1.5)


def test_stitching_puts_each_chunk_at_its_offset_in_order() -> None:
    second = [segment("S1", 0.5, 1.0, ("later", 0.9))]
    first = [segment("S1", 0.0, 2.0, ("first", 0.8), ("words", 0.7))]
    stitched = stitch([(60.0, second), (0.0, first)])
    assert [(s.text, s.start, s.end) for s in stitched] == [("first words", 0.0, 2.0), ("later", 60.5, 61.0)]
    assert [(w.start, w.end) for w in stitched[1].words] == [(60.5, 60.6)]
    # The chunks' own segments are left as they were (the models are frozen values).
    assert second[0].start == 0.5


def test_speakers_are_numbered_by_first_appearance() -> None:
    numbered = number_speakers(
        [segment("B", 0, 1, ("a", 1)), segment("A", 1, 2, ("b", 1)), segment("B", 2, 3, ("c", 1))]
    )
    assert [s.speaker for s in numbered] == ["S1", "S2", "S1"]
    transcript = Transcript(provider="p", model="m", language="en-US", duration=3, segments=numbered)
    assert transcript.speakers == ["S1", "S2"]
    assert transcript.text == "a b c"


def test_turns_join_one_speakers_close_segments_only() -> None:
    turns = merge_turns(
        [
            segment("S1", 0.0, 1.0, ("one", 1.0)),
            segment("S1", 1.5, 2.0, ("two", 0.4), ("three", 0.4)),
            segment("S1", 5.0, 6.0, ("far", 0.9)),
            segment("S2", 6.2, 7.0, ("other", 0.9)),
            segment("S1", 7.1, 8.0, ("back", 0.9)),
        ],
        max_gap=1.0,
    )
    assert [(t.speaker, t.start, t.end, t.text) for t in turns] == [
        ("S1", 0.0, 2.0, "one two three"),
        ("S1", 5.0, 6.0, "far"),
        ("S2", 6.2, 7.0, "other"),
        ("S1", 7.1, 8.0, "back"),
    ]
    assert [w.text for w in turns[0].words] == ["one", "two", "three"]
    # By word: (1.0 + 0.4 + 0.4) / 3, not the mean of the two segments' means.
    assert turns[0].confidence == pytest.approx(0.6)
