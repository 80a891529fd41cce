"""What the API takes and answers for candidates, interviews and recordings.

Who a candidate is (name, email, phone) and who interviews them are personal data: they are
sealed at rest (store.sealed) and never travel in workflow payloads, which carry ids only.
"""

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)

from domain.interviews.language import language_tag
from domain.interviews.recordings import AudioFacts, RecordingStatus
from domain.interviews.rubric import Rubric
from domain.time_zones import TimeZone

PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _phone(value: str) -> str:
    # What people type (+1 (555) 010-2030, 0049 30 1234567): 6 to 15 digits (E.164's maximum)
    # among spaces, dots, dashes and parentheses.
    digits = re.sub(r"[\s().-]", "", value)
    if not re.fullmatch(r"\+?[0-9]{6,15}", digits):
        raise ValueError("a phone number: 6 to 15 digits, optionally with a leading + and separators")
    return value


Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40), AfterValidator(_phone)]
LanguageTag = Annotated[str, StringConstraints(max_length=35), AfterValidator(language_tag)]
Position = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Contact(BaseModel):
    """A candidate's contact data: what is sealed."""

    name: PersonName
    email: EmailStr
    phone: Phone | None = None


class CandidateIn(Contact):
    model_config = ConfigDict(extra="forbid")


class Candidate(Contact):
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class Interviewer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PersonName
    email: EmailStr | None = None


class Panel(BaseModel):
    """An interview's interviewers: what is sealed of an interview."""

    interviewers: list[Interviewer] = Field(default_factory=list, max_length=20)


class InterviewIn(Panel):
    model_config = ConfigDict(extra="forbid")

    candidate_id: uuid.UUID
    position: Position
    language: LanguageTag = Field(description="BCP-47 tag of the language spoken, e.g. en-US")
    scheduled_at: AwareDatetime | None = Field(default=None, description="ISO 8601 with its offset")
    time_zone: TimeZone = Field(default="UTC", description="Where the interview takes place (IANA)")
    rubric: Rubric


class Interview(Panel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    position: str
    language: str
    scheduled_at: datetime | None
    time_zone: str
    rubric: Rubric
    # domain.interviews.pipeline.InterviewStatus: created (no recording yet), transcribing,
    # analyzing, analyzed, failed, analysis_failed.
    status: str
    # Why it failed (or its analysis did), when it did.
    failure: str | None = None
    created_at: datetime


class Recording(BaseModel):
    id: uuid.UUID
    interview_id: uuid.UUID
    status: RecordingStatus
    sha256: str
    size_bytes: int
    format: AudioFacts
    created_at: datetime
