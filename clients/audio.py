"""Audio read with PyAV (whose wheels ship FFmpeg: no system ffmpeg needed): the probe of an
uploaded recording, and the conversion the cloud speech providers take (mono 16 kHz FLAC, in
chunks when a recording is over a provider's request limit).

The probe reads the container's header for the format and duration, then decodes the first
DECODE_CHECK_SECONDS of the audio: a file whose start does not decode (corrupt, truncated, not
audio at all) is refused at upload. Damage after those seconds is found when the file is
converted for transcription. Blocking (FFmpeg does the I/O): run it in a thread.
"""

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer

from domain.interviews.recordings import CONTAINERS, AudioFacts, Refused

DECODE_CHECK_SECONDS = 10.0
# Share of the expected seconds that must decode: codecs' priming and padding lose a few ms.
DECODED_SHARE = 0.9
# What speech models are trained on and what Google recommends: more only costs bytes.
RATE = 16_000
# Consecutive chunks share this many seconds (by default): a word cut at one chunk's edge is heard
# whole by the other, and the words both heard tell which of a chunk's speakers is which of the
# previous one's.
CHUNK_OVERLAP_SECONDS = 10.0
# FLAC's ratio varies along a recording (speech, silence, noise): chunks aim this far below the
# limit, and one more chunk is made (all shorter) while one still comes out over it.
CHUNK_MARGIN = 0.9


def probe(file: BinaryIO) -> AudioFacts:
    """The facts of the first audio stream in `file`; Refused when there is none that decodes."""
    try:
        with av.open(file, mode="r") as container:
            if not container.streams.audio:
                raise Refused("Not audio", "The file holds no audio stream.")
            stream = container.streams.audio[0]
            facts = AudioFacts(
                container=CONTAINERS.get(container.format.name, container.format.name),
                codec=stream.codec_context.codec.canonical_name,
                duration_seconds=_duration(container, stream),
                channels=stream.codec_context.channels,
                sample_rate=stream.codec_context.sample_rate,
                bit_rate=container.bit_rate or None,
            )
            _decodes(container, stream, min(facts.duration_seconds, DECODE_CHECK_SECONDS))
    except av.FFmpegError as e:
        raise Refused("Unreadable audio", f"The file cannot be read as audio: {e.strerror}.") from None
    return facts


def _duration(container: InputContainer, stream: AudioStream) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    # Neither header says (a live-recorded WebM, for one): the last packet's end.
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return end


def _decodes(container: InputContainer, stream: AudioStream, seconds: float) -> None:
    decoded = 0.0
    try:
        for packet in container.demux(stream):
            for frame in stream.decode(packet):
                decoded += frame.samples / frame.sample_rate
            if decoded >= seconds:
                return
    except av.FFmpegError as e:
        raise Refused("Corrupt audio", f"The audio does not decode: {e.strerror}.") from None
    if decoded < seconds * DECODED_SHARE:
        raise Refused(
            "Corrupt audio",
            f"Only {decoded:.2f} s of the first {seconds:.2f} s of audio decode; the file is damaged.",
        )


class UndecodableAudio(Exception):
    """The recording does not decode (corrupt, truncated, no audio): no provider can help."""


@dataclass(frozen=True)
class Chunk:
    """``data`` (FLAC) holds the recording from ``offset`` seconds for ``duration`` seconds."""

    offset: float
    duration: float
    data: bytes


def pcm16(path: Path) -> np.ndarray:
    """The whole recording as mono 16 kHz 16-bit samples (about 115 MB an hour)."""
    parts = []
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UndecodableAudio("the file has no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in container.decode(audio=0):
                parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            parts.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except av.FFmpegError as e:
        raise UndecodableAudio(f"the audio does not decode: {e.strerror}") from None
    if not parts:
        raise UndecodableAudio("no audio could be decoded from the file")
    return np.concatenate(parts)


def flac(samples: np.ndarray) -> bytes:
    """Mono 16 kHz FLAC of ``samples``: lossless at about half of LINEAR16's size, taken by both
    Google Speech-to-Text and OpenAI. The same samples always give the same bytes."""
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=RATE, layout="mono")
        stream.format = "s16"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def flac_chunks(
    samples: np.ndarray,
    max_bytes: int,
    *,
    max_seconds: float = math.inf,
    overlap: float = CHUNK_OVERLAP_SECONDS,
) -> list[Chunk]:
    """The recording as FLAC, in as few chunks of equal length as fit ``max_bytes`` and
    ``max_seconds`` each, consecutive chunks overlapping by ``overlap`` seconds. Deterministic:
    the same samples give the same chunks, so a retried start plans the chunks the first did."""
    total, shared, longest = len(samples), round(overlap * RATE), max_seconds * RATE
    count = 2
    if total <= longest:
        whole = flac(samples)
        if len(whole) <= max_bytes:
            return [Chunk(0.0, total / RATE, whole)]
        # FLAC's ratio over the whole recording says about how many chunks it takes.
        count = max(count, math.ceil(len(whole) / (max_bytes * CHUNK_MARGIN)))
    else:
        count = max(count, math.ceil((total - shared) / (longest - shared)))
    while True:
        length = math.ceil((total + (count - 1) * shared) / count)
        if length <= 2 * shared:
            raise ValueError(f"chunks of {max_bytes} bytes, {max_seconds} s would be mostly overlap")
        if length <= longest and (chunks := _chunked(samples, count, length, shared, max_bytes)):
            return chunks
        count += 1


def _chunked(
    samples: np.ndarray, count: int, length: int, overlap: int, max_bytes: int
) -> list[Chunk] | None:
    """``count`` chunks of ``length`` samples (the last may be shorter), each sharing ``overlap``
    samples with the next; None when one is over ``max_bytes``."""
    chunks = []
    for i in range(count):
        first = i * (length - overlap)
        data = flac(samples[first : first + length])
        if len(data) > max_bytes:
            return None
        chunks.append(Chunk(first / RATE, (min(len(samples), first + length) - first) / RATE, data))
    return chunks
