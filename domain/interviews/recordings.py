"""Recordings: the audio formats accepted at upload and what a probe found in a file.

Accepted are the formats interview tools export and speech providers take (directly or after a
conversion): PCM WAV, FLAC, MP3, AAC (M4A/MP4), and Opus in Ogg or WebM. Anything else that
decodes (Vorbis, ADPCM, WMA, ...) is refused at upload as an unsupported codec rather than
accepted and failed later.
"""

import enum

from pydantic import BaseModel, Field


class RecordingStatus(enum.StrEnum):
    # Stored and probed; the interview workflow takes it from here.
    uploaded = "uploaded"
    # The audio was deleted by the retention period (INTERVIEWS_AUDIO_RETENTION_DAYS).
    purged = "purged"


# The codec of the audio stream (FFmpeg's canonical names) -> the containers it may come in.
ACCEPTED: dict[str, frozenset[str]] = {
    "pcm_s16le": frozenset({"wav"}),
    "pcm_s24le": frozenset({"wav"}),
    "pcm_s32le": frozenset({"wav"}),
    "pcm_f32le": frozenset({"wav"}),
    "pcm_u8": frozenset({"wav"}),
    "flac": frozenset({"flac", "ogg"}),
    "mp3": frozenset({"mp3"}),
    "aac": frozenset({"mp4"}),
    "opus": frozenset({"ogg", "webm"}),
}

# FFmpeg's demuxer names -> the container's usual name.
CONTAINERS = {
    "wav": "wav",
    "flac": "flac",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "ogg": "ogg",
    "matroska,webm": "webm",
}

MAX_CHANNELS = 8
# Shorter is no interview (and is what a truncated file often reads as).
MIN_SECONDS = 1.0


class AudioFacts(BaseModel):
    """What the probe read from a file's container and its audio stream."""

    container: str = Field(description="wav, flac, mp3, mp4, ogg or webm")
    codec: str = Field(description="FFmpeg's name of the audio codec, e.g. pcm_s16le, mp3, aac, opus")
    duration_seconds: float
    channels: int
    sample_rate: int
    bit_rate: int | None = None


class Refused(ValueError):
    """An upload that cannot be processed; the message says why, for the caller."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title, self.detail = title, detail


def check(facts: AudioFacts, max_seconds: float) -> None:
    """Refused unless the probed file is in an accepted format, has sound, and is not too long."""
    accepted_in = ACCEPTED.get(facts.codec)
    if accepted_in is None or facts.container not in accepted_in:
        raise Refused(
            "Unsupported audio format",
            f"{facts.codec} audio in {facts.container} is not accepted; send WAV (PCM), FLAC, MP3, "
            "M4A (AAC), or Opus in Ogg or WebM.",
        )
    if facts.duration_seconds < MIN_SECONDS:
        raise Refused(
            "Audio too short",
            f"The audio lasts {facts.duration_seconds:.2f} s; at least {MIN_SECONDS:g} s is needed.",
        )
    if facts.duration_seconds > max_seconds:
        raise Refused(
            "Audio too long",
            f"The audio lasts {facts.duration_seconds:.0f} s; at most {max_seconds:.0f} s is accepted.",
        )
    if not 1 <= facts.channels <= MAX_CHANNELS:
        raise Refused(
            "Unsupported audio format", f"{facts.channels} channels; 1 to {MAX_CHANNELS} are accepted."
        )
