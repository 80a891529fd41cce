"""What the analysis model is told: the rubric, and the transcript as lines with their time and
speaker ("[01:05] S2: ..."), so that its quotes can be found again (scorecard.py); what it is
told when its answer could not stand; and a transcript too long for one prompt cut into parts.
"""

from domain.interviews.rubric import Rubric
from domain.interviews.scorecard import Recommendation
from domain.interviews.transcripts import Segment, Transcript

SYSTEM = (
    "You assess a job interview against a rubric. Rate every competency of the rubric at one of "
    "its levels, and name the candidate's strengths and concerns. Back every rating, strength and "
    "concern with quotes copied word for word from the transcript lines (without their time and "
    "speaker): a quote that is not in the transcript makes the whole assessment invalid. Judge only "
    "what was said."
)


RECOMMEND = (
    "Also give a hiring recommendation for the position, one of: "
    + ", ".join(r.value for r in Recommendation)
    + ", based only on the rubric's ratings and what was said."
)
# A part's place among the parts, so that the model knows it judges from part of the interview.
PART = "This is part {n} of {of} of the interview's transcript: judge from this part only."


def render(
    transcript: Transcript,
    position: str,
    rubric: Rubric,
    *,
    recommend: bool = False,
    part: tuple[int, int] = (1, 1),
) -> str:
    scales = [
        f"- {c.name} (weight {c.weight:g}{': ' + c.description if c.description else ''}): "
        + "; ".join(f"level {level.score}: {level.description}" for level in c.levels)
        for c in rubric.competencies
    ]
    lines = [_line(s.start, s.speaker, s.text) for s in transcript.segments]
    notes = ([RECOMMEND] if recommend else []) + ([PART.format(n=part[0], of=part[1])] if part[1] > 1 else [])
    return "\n".join(
        [
            f"Position: {position}",
            *notes,
            "",
            "Rubric",
            *scales,
            "",
            "Transcript (speaker S1 speaks first)",
            *lines,
        ]
    )


def correction(refusal: str) -> str:
    """What the model is told after an answer that could not stand: the one chance it gets."""
    return (
        f"Your answer cannot be used: {refusal}. Answer again, following the schema exactly, with "
        "every quote copied word for word from the transcript lines."
    )


def parts(transcript: Transcript, max_chars: int) -> list[Transcript]:
    """The transcript in consecutive parts whose lines fit in ``max_chars`` each (a segment is
    never cut: one longer than that is a part of its own). One part when it all fits."""
    cut: list[list[Segment]] = [[]]
    size = 0
    for segment in transcript.segments:
        length = len(_line(segment.start, segment.speaker, segment.text)) + 1
        if cut[-1] and size + length > max_chars:
            cut.append([])
            size = 0
        cut[-1].append(segment)
        size += length
    return [transcript.model_copy(update={"segments": segments}) for segments in cut]


def _line(start: float, speaker: str, text: str) -> str:
    return f"[{_clock(start)}] {speaker}: {text}"


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes:02d}:{rest:02d}"
