"""The Speech emulator's state: scripted transcripts (per audio SHA-256 or ``gs://`` URI),
long-running operations and settings; in memory and, with a data dir, in ``speech.sqlite3``.

An operation keeps the transcript it will answer with (the script, or the default, as it was
when the operation started), when it started and how long it takes: its progress is computed
from the wall clock, so polling after an emulator restart finds it further along, or done.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from emulators.persistence import RecordFile
from emulators.transcripts import Segment, Transcript

DB_FILE = "speech.sqlite3"


class OperationError(BaseModel):
    """How a scripted long-running recognition fails (google.rpc.Status)."""

    code: int = Field(13, ge=1, le=16)  # 13 INTERNAL
    message: str = "Internal error encountered."


class Script(BaseModel):
    """A transcript scripted through the control API."""

    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    uri: str | None = Field(None, pattern=r"^gs://")
    segments: list[Segment] = Field(default_factory=list)
    # Seconds a long-running recognition of this audio takes (None: the settings' default).
    processing_seconds: float | None = Field(None, ge=0)
    # The operation ends with this error instead of results.
    error: OperationError | None = None
    # Audio length to assume for a `uri` (billed time); inline audio is measured.
    duration: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_key(self) -> Script:
        if (self.sha256 is None) == (self.uri is None):
            raise ValueError("give exactly one of sha256 and uri")
        return self

    @property
    def key(self) -> str:
        return self.sha256 or self.uri or ""

    def transcript(self) -> Transcript:
        return Transcript(segments=self.segments)


class Settings(BaseModel):
    # None: a tenth of the audio's length, between 1 and 30 seconds.
    processing_seconds: float | None = Field(None, ge=0)


class Operation(BaseModel):
    name: str
    key: str
    created: float
    processing_seconds: float
    audio_seconds: float
    options: dict[str, Any]
    transcript: Transcript
    error: OperationError | None = None
    uri: str = ""

    def progress(self, now: float | None = None) -> int:
        if self.processing_seconds <= 0:
            return 100
        elapsed = (now or time.time()) - self.created
        return min(100, int(100 * elapsed / self.processing_seconds))


class SpeechState:
    def __init__(self, data_dir: Path | None) -> None:
        self.db = RecordFile(data_dir / DB_FILE) if data_dir is not None else None
        self.scripts: dict[str, Script] = {}
        self.operations: dict[str, Operation] = {}
        self.settings = Settings()
        if self.db is not None:
            self.scripts = {k: Script.model_validate(v) for k, v in self.db.records("script")}
            self.operations = {k: Operation.model_validate(v) for k, v in self.db.records("operation")}
            for _, body in self.db.records("settings"):
                self.settings = Settings.model_validate(body)

    def script(self, script: Script) -> None:
        self.scripts[script.key] = script
        if self.db is not None:
            self.db.put("script", script.key, script.model_dump(mode="json"))

    def unscript(self, key: str) -> bool:
        found = self.scripts.pop(key, None) is not None
        if found and self.db is not None:
            self.db.delete("script", key)
        return found

    def configure(self, settings: Settings) -> None:
        self.settings = settings
        if self.db is not None:
            self.db.put("settings", "settings", settings.model_dump(mode="json"))

    def processing_seconds(self, script: Script | None, audio_seconds: float) -> float:
        if script is not None and script.processing_seconds is not None:
            return script.processing_seconds
        if self.settings.processing_seconds is not None:
            return self.settings.processing_seconds
        return min(30.0, max(1.0, audio_seconds / 10))

    def start(self, **fields: Any) -> Operation:
        # Numeric names, as the v1 API gives its operations.
        operation = Operation(name=str(secrets.randbelow(9 * 10**18) + 10**18), created=time.time(), **fields)
        self.operations[operation.name] = operation
        if self.db is not None:
            self.db.put("operation", operation.name, operation.model_dump(mode="json"))
        return operation

    def reset(self) -> None:
        self.scripts.clear()
        self.operations.clear()
        self.settings = Settings()
        if self.db is not None:
            self.db.clear()
