"""Audio read with PyAV (whose wheels ship FFmpeg: no system ffmpeg needed). Here: the probe of
an uploaded recording; the conversions each speech provider needs will sit beside it.

The probe reads the container's header for the format and duration, then decodes the first
DECODE_CHECK_SECONDS of the audio: a file whose start does not decode (corrupt, truncated, not
audio at all) is refused at upload. Damage after those seconds is found when the file is
converted for transcription. Blocking (FFmpeg does the I/O): run it in a thread.
"""

from typing import BinaryIO

import av
from av.audio.stream import AudioStream
from av.container import InputContainer

from domain.interviews.recordings import CONTAINERS, AudioFacts, Refused

DECODE_CHECK_SECONDS = 10.0
# Share of the expected seconds that must decode: codecs' priming and padding lose a few ms.
DECODED_SHARE = 0.9


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
