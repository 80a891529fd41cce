"""What the analysis model is told: the rubric, and the transcript as numbered lines with their
time and speaker ("[01:05] S2: ..."), so that its quotes can be found again (scorecard.py)."""

from collections.abc import Sequence
from dataclasses import dataclass

from domain.interviews.transcripts import Transcript

SYSTEM = (
    "You assess a job interview against a rubric. Rate every competency of the rubric at one of "
    "its levels, and name the candidate's strengths and concerns. Back every rating, strength and "
    "concern with quotes copied word for word from the transcript lines (without their time and "
    "speaker): a quote that is not in the transcript makes the whole assessment invalid. Judge only "
    "what was said."
)


@dataclass(frozen=True)
class Competency:
    name: str
    weight: float
    # What each level (1, 2, 3, 4) looks like.
    levels: Sequence[str]


def render(transcript: Transcript, position: str, competencies: Sequence[Competency]) -> str:
    rubric = [
        f"- {c.name} (weight {c.weight:g}): "
        + "; ".join(f"level {n}: {description}" for n, description in enumerate(c.levels, start=1))
        for c in competencies
    ]
    lines = [f"[{_clock(s.start)}] {s.speaker}: {s.text}" for s in transcript.segments]
    return "\n".join(
        [f"Position: {position}", "", "Rubric", *rubric, "", "Transcript (speaker S1 speaks first)", *lines]
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes:02d}:{rest:02d}"
