"""Transcripts: what every transcription provider returns, and pure helpers over them.

Times are seconds from the start of the recording. Speakers are opaque labels ("S1", "S2", ...)
numbered in order of first appearance, so two transcripts of the same audio compare by position,
not by whatever names a provider happened to use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _TranscriptModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_span(start: float, end: float) -> None:
    if end < start:
        raise ValueError(f"ends at {end} before it starts at {start}")


class Word(_TranscriptModel):
    text: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    # The provider's probability that the word is right, 0..1.
    confidence: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _span(self) -> Word:
        _check_span(self.start, self.end)
        return self


class Segment(_TranscriptModel):
    speaker: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    confidence: float = Field(ge=0, le=1)
    words: list[Word] = Field(default_factory=list)

    @model_validator(mode="after")
    def _span(self) -> Segment:
        _check_span(self.start, self.end)
        return self


class Transcript(_TranscriptModel):
    # Which provider and model produced it: the record the issue asks for when a chain falls back.
    provider: str
    model: str
    # BCP-47 as the interview states it ("en-US"), not the provider's shorthand.
    language: str
    duration: float = Field(ge=0)
    segments: list[Segment]

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(segment.speaker for segment in self.segments))

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments)


class NoSpeech(_TranscriptModel):
    """A recording that decoded fine but in which the provider found nothing to transcribe.

    A result, not an error: the workflow ends the interview ``failed`` with this reason, and
    nothing retries it, since the same audio gives the same silence.
    """

    provider: str
    model: str
    duration: float = Field(ge=0)
    reason: str = "no speech found in the recording"


def shift(segments: Iterable[Segment], offset: float) -> list[Segment]:
    """``segments`` of a chunk that starts ``offset`` seconds into the recording, in its time."""
    return [
        segment.model_copy(
            update={
                "start": segment.start + offset,
                "end": segment.end + offset,
                "words": [
                    word.model_copy(update={"start": word.start + offset, "end": word.end + offset})
                    for word in segment.words
                ],
            }
        )
        for segment in segments
    ]


def stitch(chunks: Sequence[tuple[float, Sequence[Segment]]]) -> list[Segment]:
    """One timeline from chunks transcribed apart, each given with its offset in the recording.

    Speaker labels are kept as the chunks give them: a provider that labels each chunk on its
    own has no shared identity across chunks, and the caller must make them one first.
    """
    stitched: list[Segment] = []
    for offset, segments in sorted(chunks, key=lambda chunk: chunk[0]):
        stitched.extend(shift(segments, offset))
    return stitched


def number_speakers(segments: Iterable[Segment]) -> list[Segment]:
    """The same segments with speakers renamed S1, S2, ... in order of first appearance."""
    names: dict[str, str] = {}
    numbered = []
    for segment in segments:
        name = names.setdefault(segment.speaker, f"S{len(names) + 1}")
        numbered.append(segment.model_copy(update={"speaker": name}))
    return numbered


def merge_turns(segments: Iterable[Segment], *, max_gap: float) -> list[Segment]:
    """Consecutive segments of one speaker, no more than ``max_gap`` seconds apart, as one turn.

    A turn's confidence is its words' mean (by word, so a long segment weighs more than a short
    one), or the segments' mean when no words are given.
    """
    merged: list[list[Segment]] = []
    for segment in segments:
        previous = merged[-1][-1] if merged else None
        if (
            previous is not None
            and previous.speaker == segment.speaker
            and segment.start - previous.end <= max_gap
        ):
            merged[-1].append(segment)
        else:
            merged.append([segment])
    return [_join(turn) for turn in merged]


def _join(turn: list[Segment]) -> Segment:
    if len(turn) == 1:
        return turn[0]
    words = [word for segment in turn for word in segment.words]
    confidences = [word.confidence for word in words] or [segment.confidence for segment in turn]
    return Segment(
        speaker=turn[0].speaker,
        start=turn[0].start,
        end=max(segment.end for segment in turn),
        text=" ".join(segment.text for segment in turn),
        confidence=sum(confidences) / len(confidences),
        words=words,
    )
