"""``POST /v1/audio/transcriptions`` (multipart): the file limits and model/format rules the real
API applies, and the transcript (scripted per audio SHA-256, else the shared default) in each
``response_format``."""

from __future__ import annotations

import math
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from emulators.audio import probe
from emulators.providers.openai.errors import OpenAIError, missing
from emulators.transcripts import Transcript, default_transcript

MAX_BYTES = 26_214_400  # 25 MB
FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
WHISPER = "whisper-1"
# These answer json or text only (gpt-4o-transcribe-diarize's diarized_json is not emulated).
GPT_TRANSCRIBE = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize")
LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
}


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _cues(transcript: Transcript, separator: str) -> list[str]:
    return [
        f"{_timestamp(s.start, separator)} --> {_timestamp(s.end, separator)}\n{s.text}\n"
        for s in transcript.segments
    ]


def render(
    transcript: Transcript, response_format: str, language: str, duration: float, words: bool
) -> Response:
    usage = {"type": "duration", "seconds": math.ceil(duration)}
    if response_format == "text":
        return PlainTextResponse(transcript.text + "\n")
    if response_format == "srt":
        cues = _cues(transcript, ",")
        return PlainTextResponse("\n".join(f"{i}\n{cue}" for i, cue in enumerate(cues, 1)))
    if response_format == "vtt":
        return PlainTextResponse("WEBVTT\n\n" + "\n".join(_cues(transcript, ".")))
    if response_format == "json":
        return JSONResponse({"text": transcript.text, "usage": usage})
    verbose: dict[str, Any] = {
        "task": "transcribe",
        "language": LANGUAGES.get(language, language),
        "duration": round(duration, 2),
        "text": transcript.text,
        # Whisper's segment texts start with a space.
        "segments": [
            {
                "id": i,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": " " + s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
            for i, s in enumerate(transcript.segments)
        ],
        "usage": usage,
    }
    if words:
        verbose["words"] = [
            {"word": w.word.strip(".,?!"), "start": w.start, "end": w.end}
            for s in transcript.segments
            for w in s.timed_words()
        ]
    return JSONResponse(verbose)


async def transcribe(request: Request, body: bytes, transcripts: dict[str, Transcript]) -> Response:
    if len(body) > MAX_BYTES:
        raise OpenAIError(
            413, f"Maximum content size limit ({MAX_BYTES}) exceeded ({len(body)} bytes read)", "server_error"
        )
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise missing("file")
    model = form.get("model")
    if not isinstance(model, str) or not model:
        raise missing("model")
    if model != WHISPER and model not in GPT_TRANSCRIBE:
        raise OpenAIError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    response_format = str(form.get("response_format") or "json")
    if response_format not in ("json", "text", "srt", "verbose_json", "vtt"):
        raise OpenAIError(
            400, f"Invalid value for 'response_format': '{response_format}'.", param="response_format"
        )
    if model != WHISPER and response_format not in ("json", "text"):
        raise OpenAIError(
            400,
            f"response_format '{response_format}' is not compatible with model '{model}'. "
            "Use 'json' or 'text' instead.",
            param="response_format",
            code="unsupported_value",
        )
    extension = (upload.filename or "").rpartition(".")[2].lower()
    if extension not in FORMATS:
        raise OpenAIError(400, f"Invalid file format. Supported formats: {list(FORMATS)}", param="file")
    audio = await upload.read()
    info = probe(audio)
    transcript = transcripts.get(info.sha256) or default_transcript(
        info.sha256, info.duration, silent=info.silent
    )
    granularities = form.getlist("timestamp_granularities[]")
    language = str(form.get("language") or transcript.language or "en")
    return render(transcript, response_format, language, info.duration, "word" in granularities)
