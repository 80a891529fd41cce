"""What the analysis model is told: the rubric, and the transcript as numbered lines with their
time and speaker ("[01:05] S2: ..."), so that its quotes can be found again (scorecard.py)."""

from domain.interviews.rubric import Rubric
from domain.interviews.transcripts import Transcript

SYSTEM = (
    "You assess a job interview against a rubric. Rate every competency of the rubric at one of "
    "its levels, and name the candidate's strengths and concerns. Back every rating, strength and "
    "concern with quotes copied word for word from the transcript lines (without their time and "
    "speaker): a quote that is not in the transcript makes the whole assessment invalid. Judge only "
    "what was said."
)


def render(transcript: Transcript, position: str, rubric: Rubric) -> str:
    scales = [
        f"- {c.name} (weight {c.weight:g}{': ' + c.description if c.description else ''}): "
        + "; ".join(f"level {level.score}: {level.description}" for level in c.levels)
        for c in rubric.competencies
    ]
    lines = [f"[{_clock(s.start)}] {s.speaker}: {s.text}" for s in transcript.segments]
    return "\n".join(
        [f"Position: {position}", "", "Rubric", *scales, "", "Transcript (speaker S1 speaks first)", *lines]
    )


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes:02d}:{rest:02d}"
