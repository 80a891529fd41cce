"""The transcript model's rules and its pure helpers (stitching chunks, numbering speakers, turns)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.interviews.transcripts import (
    Segment,
    Transcript,
    Word,
    align_speakers,
    merge_turns,
    number_speakers,
    shift,
    stitch,
    stitch_overlapping,
    within,
)


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


def test_within_keeps_each_word_by_its_middle_and_rebuilds_a_cut_segment() -> None:
    said = segment("S1", 9.8, 10.1, ("left", 0.8), ("right", 0.6), ("far", 0.4))
    # Words at 9.8-9.9, 9.9-10.0 and 10.0-10.1: their middles 9.85, 9.95, 10.05.
    (before,) = within([said], 0.0, 10.0)
    (after,) = within([said], 10.0, 20.0)
    assert (before.text, before.start, before.end) == ("left right", 9.8, pytest.approx(10.0))
    assert (after.text, after.confidence) == ("far", 0.4)
    assert within([said], 0.0, 20.0) == [said]


def test_overlapping_chunks_name_speakers_by_the_words_both_heard() -> None:
    # Chunk 0 covers 0-12 s, chunk 1 starts at 8 s (4 s of overlap) and calls the speakers the
    # other way round; a third speaker appears only in chunk 1, after the overlap.
    first = [
        segment("0:1", 0.0, 0.2, ("a", 0.9), ("b", 0.9)),
        segment("0:2", 9.0, 9.2, ("c", 0.9), ("d", 0.9)),
    ]
    second = [
        segment("1:2", 1.0, 1.2, ("c", 0.9), ("d", 0.9)),
        segment("1:1", 3.5, 3.6, ("e", 0.9)),
        segment("1:3", 6.0, 6.1, ("f", 0.9)),
    ]
    stitched = stitch_overlapping([(0.0, 12.0, first), (8.0, 12.0, second)])
    assert [(s.speaker, s.text) for s in stitched] == [
        ("0:1", "a b"),
        ("0:2", "c d"),
        ("1:1", "e"),
        ("1:3", "f"),
    ]
    assert [s.start for s in stitched] == [0.0, 9.0, 11.5, 14.0]
    # Nobody in the overlap to match "1:1" against: it keeps its own name.
    assert align_speakers(first, shift(second, 8.0), 8.0, 12.0)[1].speaker == "1:1"
