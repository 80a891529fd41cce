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


def from_words(speaker: str, words: Sequence[Word]) -> Segment:
    """A segment of ``speaker`` saying ``words`` (at least one): their span, their text joined,
    their mean confidence."""
    return Segment(
        speaker=speaker,
        start=words[0].start,
        end=words[-1].end,
        text=" ".join(word.text for word in words),
        confidence=sum(word.confidence for word in words) / len(words),
        words=list(words),
    )


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


def within(segments: Iterable[Segment], start: float, end: float) -> list[Segment]:
    """What of ``segments`` was said in [start, end): the words whose middle falls there.

    Overlapping chunks both hear the words near their seam; cutting both at one instant by each
    word's middle keeps every word once. A segment cut short is rebuilt from its remaining words
    (its text then theirs); a segment without words goes by its own middle.
    """
    kept = []
    for segment in segments:
        if not segment.words:
            if start <= (segment.start + segment.end) / 2 < end:
                kept.append(segment)
            continue
        words = [word for word in segment.words if start <= (word.start + word.end) / 2 < end]
        if len(words) == len(segment.words):
            kept.append(segment)
        elif words:
            kept.append(from_words(segment.speaker, words))
    return kept


def align_speakers(
    earlier: Sequence[Segment], later: Sequence[Segment], start: float, end: float
) -> list[Segment]:
    """``later`` with each speaker renamed to the ``earlier`` speaker who said the same words.

    Two chunks diarized apart name their speakers each on its own. Over [start, end), the time
    both chunks cover, each word of ``later`` votes for the ``earlier`` speaker of the word it
    overlaps most in time; a speaker takes the name with most votes. A speaker with no word in
    the overlap keeps its own name (the caller makes names unique per chunk first).
    """
    before = [(word, segment.speaker) for segment in earlier for word in segment.words if word.end > start]
    votes: dict[str, dict[str, float]] = {}
    for segment in later:
        for word in segment.words:
            if not (start <= word.start < end):
                continue
            best, overlap = None, 0.0
            for other, speaker in before:
                shared = min(word.end, other.end) - max(word.start, other.start)
                if shared > overlap:
                    best, overlap = speaker, shared
            if best is not None:
                tally = votes.setdefault(segment.speaker, {})
                tally[best] = tally.get(best, 0.0) + overlap
    names = {speaker: max(tally, key=tally.__getitem__) for speaker, tally in votes.items()}
    return [
        segment.model_copy(update={"speaker": names.get(segment.speaker, segment.speaker)})
        for segment in later
    ]


def stitch_overlapping(chunks: Sequence[tuple[float, float, Sequence[Segment]]]) -> list[Segment]:
    """One timeline from chunks that overlap, each given as (offset, duration, its segments in
    its own time), in order: each chunk's speakers named after the previous chunk's by the words
    both heard (align_speakers), and each overlap cut at its middle (within)."""
    stitched: list[Segment] = []
    previous: list[Segment] = []
    for i, (offset, duration, own) in enumerate(chunks):
        shifted = shift(own, offset)
        start = 0.0
        if i:
            before_offset, before_duration, _ = chunks[i - 1]
            overlap_end = before_offset + before_duration
            shifted = align_speakers(previous, shifted, offset, overlap_end)
            start = (offset + overlap_end) / 2
        end = float("inf")
        if i + 1 < len(chunks):
            end = (chunks[i + 1][0] + offset + duration) / 2
        stitched.extend(within(shifted, start, end))
        previous = shifted
    return stitched
