"""Transcripts the speech emulators (Speech-to-Text, OpenAI transcription) answer with: scripted
per audio SHA-256 through their control APIs, or a deterministic default for unscripted audio.

The default: one sentence of ``DEFAULT_SENTENCES`` every ``SECONDS_PER_SENTENCE`` of audio (a
5.5 s file has one sentence, a 60 s file fifteen), starting at the sentence the audio's SHA-256
picks, each sentence's words spread evenly over the first 90 % of its slot, speakers taking turns
sentence by sentence (1, 2, 1, ...). Silent audio and audio shorter than one second have none.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, model_validator

SECONDS_PER_SENTENCE = 4.0
DEFAULT_SENTENCES = (
    "Thanks for joining us today.",
    "Could you walk me through your most recent project?",
    "I led the migration of our billing system to a new platform.",
    "What was the hardest part of that work?",
    "Keeping both systems consistent while customers kept paying.",
    "How did you make sure nothing was lost?",
    "We reconciled every invoice nightly and alerted on any difference.",
    "Tell me about a time you disagreed with your team.",
    "I pushed back on a deadline because the tests were not ready.",
    "How did that conversation go?",
    "We agreed to ship a smaller scope first and it worked well.",
    "What would you do differently next time?",
    "I would involve the support team much earlier.",
    "Do you have any questions for us?",
    "Yes, how does the team decide what to build next?",
)


class Word(BaseModel):
    word: str = Field(min_length=1)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    confidence: float = Field(0.95, ge=0, le=1)


class Segment(BaseModel):
    """One utterance of one speaker; without ``words`` its words share [start, end] evenly."""

    text: str
    speaker: int = Field(1, ge=1)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    confidence: float = Field(0.92, ge=0, le=1)
    words: list[Word] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self

    def timed_words(self) -> list[Word]:
        if self.words is not None:
            return self.words
        tokens = self.text.split()
        if not tokens:
            return []
        step = (self.end - self.start) / len(tokens)
        return [
            Word(
                word=token,
                start=round(self.start + i * step, 3),
                end=round(self.start + (i + 1) * step, 3),
                confidence=self.confidence,
            )
            for i, token in enumerate(tokens)
        ]


class Transcript(BaseModel):
    segments: list[Segment] = Field(default_factory=list)
    language: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    @property
    def duration(self) -> float:
        return max((s.end for s in self.segments), default=0.0)


def default_transcript(
    sha256: str, duration: float, *, speakers: int = 2, silent: bool = False
) -> Transcript:
    if silent or duration < 1.0:
        return Transcript()
    first = int(sha256[:8], 16) % len(DEFAULT_SENTENCES)
    count = max(1, int(duration // SECONDS_PER_SENTENCE))
    slot = duration / count
    segments = [
        Segment(
            text=DEFAULT_SENTENCES[(first + i) % len(DEFAULT_SENTENCES)],
            speaker=i % max(1, speakers) + 1,
            start=round(i * slot, 3),
            end=round(i * slot + slot * 0.9, 3),
        )
        for i in range(count)
    ]
    return Transcript(segments=segments)


_PUNCTUATION = re.compile(r"[^\w\s'-]")


def without_punctuation(text: str) -> str:
    """Text as a recognizer without automatic punctuation writes it."""
    return _PUNCTUATION.sub("", text)
