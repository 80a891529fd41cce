"""Interview tables: candidates (contact data sealed), their interviews (the interviewers
sealed; the rubric plain: it names competencies, not people), and each interview's recordings.

A recording's audio is a blob (store.blobs) under `blob_key`; the row holds what the probe
found. The same bytes uploaded twice to one interview are one recording (unique sha256).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, tenant_ref, timestamp


class Candidate(Base):
    __tablename__ = "interview_candidates"
    __table_args__ = (Index("ix_interview_candidates_tenant_created", "tenant_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    created_at: Mapped[datetime] = timestamp()
    updated_at: Mapped[datetime] = timestamp()
    # SHA-256 of the creating request: the same Idempotency-Key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    # domain.interviews.contracts.Contact as JSON, sealed to the candidate's id.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Interview(Base):
    __tablename__ = "interviews"
    __table_args__ = (
        Index("ix_interviews_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_interviews_candidate", "candidate_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    # Deleting a candidate deletes their interviews, and with them the recordings' rows.
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interview_candidates.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = timestamp()
    request_hash: Mapped[str] = mapped_column(String(64))
    position: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(35))
    scheduled_at: Mapped[datetime | None] = timestamp(nullable=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # domain.interviews.rubric.Rubric as JSON (weights normalised).
    rubric: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # domain.interviews.contracts.Panel as JSON, sealed to the interview's id.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(32), server_default="created")
    # Why the interview failed or its analysis did (domain.interviews.pipeline).
    failure: Mapped[str | None] = mapped_column(Text)


class Recording(Base):
    __tablename__ = "interview_recordings"
    __table_args__ = (
        UniqueConstraint("interview_id", "sha256", name="uq_interview_recordings_interview_sha256"),
        Index("ix_interview_recordings_interview_created", "interview_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = timestamp()
    # domain.interviews.recordings.RecordingStatus
    status: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(512))
    container: Mapped[str] = mapped_column(String(32))
    codec: Mapped[str] = mapped_column(String(32))
    duration_seconds: Mapped[float] = mapped_column(Double)
    channels: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[int] = mapped_column(Integer)
    bit_rate: Mapped[int | None] = mapped_column(Integer)


class Transcript(Base):
    """A recording's transcript by one provider (domain.interviews.transcripts.Transcript as
    JSON, sealed: what the candidate said is personal data). Its id is derived from the recording
    and the provider, so a retried activity writes the same row."""

    __tablename__ = "interview_transcripts"
    __table_args__ = (Index("ix_interview_transcripts_interview_created", "interview_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    recording_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interview_recordings.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = timestamp()
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    duration_seconds: Mapped[float] = mapped_column(Double)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Analysis(Base):
    """An interview's scorecard (domain.interviews.scorecard.Scorecard as JSON, sealed: it quotes
    the candidate) from one transcript by one model; its id is derived from both."""

    __tablename__ = "interview_analyses"
    __table_args__ = (Index("ix_interview_analyses_interview_created", "interview_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"))
    transcript_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interview_transcripts.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = timestamp()
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Double)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # What the model's call cost, as the provider counted it (null: it did not say, or the
    # analysis predates 0012) and how long it took.
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)


class StartedRecognition(Base):
    """The long-running recognitions a provider was asked for a recording
    (clients.speech_google.Recognition as JSON: operation names and the audio each covers; no
    speech). Written as each one starts, so that a retried or restarted worker polls them and
    never starts one again."""

    __tablename__ = "interview_recognitions"

    recording_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interview_recordings.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref())
    created_at: Mapped[datetime] = timestamp()
    operations: Mapped[dict[str, Any]] = mapped_column(JSONB)


class TenantSettings(Base):
    """A tenant's choices for its interviews' analysis; a tenant without a row has the defaults."""

    __tablename__ = "interview_tenant_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(tenant_ref(), primary_key=True)
    updated_at: Mapped[datetime] = timestamp()
    # A hiring recommendation in the scorecard: off unless the tenant turns it on.
    recommendation: Mapped[bool] = mapped_column(Boolean, server_default="false")
