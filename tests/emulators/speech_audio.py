"""Audio for the speech emulator tests: deterministic 16 kHz mono 16-bit WAV files."""

from __future__ import annotations

import io
import math
import wave
from array import array

RATE = 16_000


def wav(seconds: float, *, tone: float = 440.0, silent: bool = False) -> bytes:
    """``seconds`` of a sine tone (or of silence) as a WAV file."""
    count = int(seconds * RATE)
    if silent:
        samples = array("h", bytes(2 * count))
    else:
        period = [int(8000 * math.sin(2 * math.pi * tone * i / RATE)) for i in range(RATE)]
        samples = array("h", (period * (count // RATE + 1))[:count])
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return out.getvalue()
