"""Known speech for the cloud transcription tests: the two-speaker fixture's turns (its .tsv),
repeated into a recording as long as a test needs, with each word's time, and the emulators'
scripts for the exact bytes a client sends (the FLAC of the whole recording or of each chunk)."""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from clients.audio import RATE, Chunk, pcm16
from tests.interviews.conftest import FIXTURES

TWO_SPEAKERS = FIXTURES / "local-two-speakers.wav"
ROLES = {"interviewer": 1, "candidate": 2}


@dataclass(frozen=True)
class SpokenWord:
    speaker: int  # 1 interviewer, 2 candidate
    turn: int
    text: str
    start: float
    end: float


def spoken(repeats: int = 1) -> list[SpokenWord]:
    """The fixture's words, each turn's spread evenly over it, ``repeats`` times end to end."""
    length = len(pcm16(TWO_SPEAKERS)) / RATE
    rows = [line.split("\t") for line in (FIXTURES / "local-two-speakers.tsv").read_text().splitlines()]
    words = []
    for k in range(repeats):
        for i, (role, start, end, text) in enumerate(rows):
            first, span = float(start) + k * length, float(end) - float(start)
            tokens = text.split()
            step = span / len(tokens)
            words.extend(
                SpokenWord(ROLES[role], k * len(rows) + i, token, first + j * step, first + (j + 0.8) * step)
                for j, token in enumerate(tokens)
            )
    return words


def recording(path: Path, repeats: int) -> Path:
    """The fixture ``repeats`` times over, as a 16 kHz mono WAV."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.tile(pcm16(TWO_SPEAKERS), repeats).tobytes())
    return path


def segments(words: list[SpokenWord], offset: float = 0.0, swap: bool = False) -> list[dict]:
    """The emulators' script segments for ``words``, in the time of a chunk at ``offset``: one
    per turn, with the words' own times; ``swap`` names the speakers the other way round, as a
    provider diarizing a chunk on its own may."""
    turns: dict[int, list[SpokenWord]] = {}
    for word in words:
        turns.setdefault(word.turn, []).append(word)
    return [
        {
            "speaker": 3 - said[0].speaker if swap else said[0].speaker,
            "start": round(said[0].start - offset, 3),
            "end": round(said[-1].end - offset, 3),
            "text": " ".join(w.text for w in said),
            "words": [
                {"word": w.text, "start": round(w.start - offset, 3), "end": round(w.end - offset, 3)}
                for w in said
            ],
        }
        for said in turns.values()
    ]


def heard(chunk: Chunk, words: list[SpokenWord]) -> list[SpokenWord]:
    """The words said wholly inside the chunk."""
    return [w for w in words if w.start >= chunk.offset and w.end <= chunk.offset + chunk.duration]


def script(emulator: str, provider: str, data: bytes, segments: list[dict], **extra: object) -> None:
    body = {"sha256": hashlib.sha256(data).hexdigest(), "segments": segments, **extra}
    httpx.post(f"{emulator}/_control/{provider}/transcripts", json=body).raise_for_status()


def fault(emulator: str, **spec: object) -> None:
    httpx.post(f"{emulator}/_control/faults", json=spec).raise_for_status()


def calls(emulator: str, provider: str, method: str) -> int:
    stats = httpx.get(f"{emulator}/_control/{provider}/stats").json()["calls"]
    return stats.get(method, {}).get("total", 0)
