"""What the speech emulators need to know about an audio file: its SHA-256 (the key transcripts
are scripted under), its duration, and whether it is silent.

Durations are read from WAV (RIFF ``fmt `` and ``data`` chunks) and FLAC (STREAMINFO) headers;
raw LINEAR16 / MULAW use the sample rate the request states; any other format (MP3, Opus, M4A,
...) is assumed to be 128 kbit/s, i.e. 16 000 bytes a second. Silence is detected for 16-bit PCM
only (every sample within ``SILENCE_AMPLITUDE``); other formats are never silent here.
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from dataclasses import dataclass

ASSUMED_BYTES_PER_SECOND = 16_000
SILENCE_AMPLITUDE = 64  # of 32767: below about -54 dBFS


@dataclass(frozen=True)
class AudioInfo:
    sha256: str
    size: int
    duration: float  # seconds
    container: str  # "wav", "flac", "raw" or "other"
    sample_rate: int | None = None
    channels: int | None = None
    silent: bool = False


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_silent_pcm16(pcm: bytes) -> bool:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    return not samples or (max(samples) <= SILENCE_AMPLITUDE and min(samples) >= -SILENCE_AMPLITUDE)


def _wav(data: bytes, digest: str) -> AudioInfo | None:
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt " and len(body) >= 16:
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk_id == b"data":
            pcm = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        return None
    audio_format, channels, rate, byte_rate, _, bits = fmt
    duration = len(pcm) / byte_rate if byte_rate else 0.0
    silent = audio_format == 1 and bits == 16 and _is_silent_pcm16(pcm)
    return AudioInfo(digest, len(data), duration, "wav", rate, channels, silent)


def _flac(data: bytes, digest: str) -> AudioInfo | None:
    # fLaC, then the STREAMINFO block: 4-byte block header, 34 bytes of which bits 80..143 hold
    # sample rate (20), channels - 1 (3), bits per sample - 1 (5) and total samples (36).
    if len(data) < 42:
        return None
    packed = int.from_bytes(data[18:26], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    total = packed & 0xFFFFFFFFF
    return AudioInfo(digest, len(data), total / rate if rate else 0.0, "flac", rate, channels)


def probe(data: bytes, *, encoding: str | None = None, sample_rate: int = 0, channels: int = 0) -> AudioInfo:
    """``encoding`` (a Speech ``RecognitionConfig`` encoding name) and ``sample_rate`` describe
    headerless audio; containers with a header answer for themselves."""
    digest = sha256(data)
    info = None
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        info = _wav(data, digest)
    elif data[:4] == b"fLaC":
        info = _flac(data, digest)
    if info is not None:
        return info
    channels = channels or 1
    if encoding == "LINEAR16" and sample_rate:
        duration = len(data) / (2 * sample_rate * channels)
        return AudioInfo(digest, len(data), duration, "raw", sample_rate, channels, _is_silent_pcm16(data))
    if encoding == "MULAW" and sample_rate:
        return AudioInfo(
            digest, len(data), len(data) / (sample_rate * channels), "raw", sample_rate, channels
        )
    return AudioInfo(digest, len(data), len(data) / ASSUMED_BYTES_PER_SECOND, "other")
