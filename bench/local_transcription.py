"""Real-time factor of the offline provider (clients/local_transcription.py) on this machine.

The two-voice fixture repeated to a few minutes, transcribed with one CPU thread and with every
core. `python -m bench.local_transcription [repeats]`; prints the model's load time, the seconds of
compute per second of audio (RTF) at each setting, and how many speakers were found (2 expected).
"""

import tempfile
import time
import wave
from pathlib import Path

from clients.local_transcription import LocalTranscriber
from domain.interviews.transcripts import Transcript

FIXTURE = Path(__file__).parent.parent / "tests" / "interviews" / "fixtures" / "local-two-speakers.wav"
# Faster than real time: one worker keeps up with interviews as long as they are recorded.
TARGET_RTF = 1.0
PAUSE_SECONDS = 1.0


def _repeated(repeats: int, directory: Path) -> Path:
    with wave.open(str(FIXTURE)) as source:
        params = source.getparams()
        frames = source.readframes(source.getnframes())
    pause = bytes(int(PAUSE_SECONDS * params.framerate) * params.sampwidth * params.nchannels)
    path = directory / "repeated.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes((frames + pause) * repeats)
    return path


def main(repeats: int = 8) -> None:
    with tempfile.TemporaryDirectory() as directory:
        recording = _repeated(repeats, Path(directory))
        started = time.perf_counter()
        LocalTranscriber(threads=1)
        load = time.perf_counter() - started
        figures = []
        for label, threads in (("1_thread", 1), ("all_cores", 0)):
            transcriber = LocalTranscriber(threads=threads)
            started = time.perf_counter()
            result = transcriber.transcribe(recording, language="en-US")
            elapsed = time.perf_counter() - started
            assert isinstance(result, Transcript)
            figures.append((label, elapsed / result.duration, len(result.speakers), result.duration))
    print(f"BENCH local_transcription audio_s {figures[0][3]:.1f}")
    print(f"BENCH local_transcription load_s {load:.2f}")
    for label, rtf, speakers, _ in figures:
        print(f"BENCH local_transcription rtf_{label} {rtf:.3f} target <{TARGET_RTF}")
        print(f"BENCH local_transcription speakers_{label} {speakers} target =2")


if __name__ == "__main__":
    import sys

    main(*[int(a) for a in sys.argv[1:]])
