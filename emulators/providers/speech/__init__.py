"""Speech-to-Text v1 emulator over gRPC: Recognize, LongRunningRecognize and the Operations
service's GetOperation, as ``google-cloud-speech`` calls them.

Served on the emulator server's gRPC port (GOOGLE_SPEECH_ENDPOINT=127.0.0.1:<grpc port>);
control API under ``/_control/speech``. docs/emulators.md says which behaviours follow the real
API and where that knowledge came from.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from starlette.responses import JSONResponse
from starlette.routing import Router

from emulators.control import CallCounts
from emulators.grpc_gateway import STATUS_TO_CODE
from emulators.providers.base import Provider
from emulators.providers.speech.control import control_routes
from emulators.providers.speech.service import SpeechService
from emulators.providers.speech.state import SpeechState


class SpeechProvider(Provider):
    name = "speech"

    def __init__(self, data_dir: Path | None = None) -> None:
        self.state = SpeechState(data_dir)
        # method name (LongRunningRecognize, GetOperation, ...) -> answered status
        self.calls = CallCounts()
        self.grpc_methods = SpeechService(self.state).methods()
        # Speech-to-Text is served over gRPC only; its HTTP prefix answers 404.
        self.app = Router(routes=[], default=JSONResponse({"error": "gRPC only"}, status_code=404))
        self.control_routes = control_routes(self)

    def observe(self, method: str, path: str, status: int | None) -> None:
        self.calls.add(path.rsplit("/", 1)[-1], status)

    def reset(self) -> None:
        self.state.reset()
        self.calls.clear()

    def grpc_error_message(self, status: int, fault_id: str) -> str:
        # The messages Google's front end gives these codes.
        code = STATUS_TO_CODE.get(status, grpc.StatusCode.UNKNOWN)
        return {
            grpc.StatusCode.RESOURCE_EXHAUSTED: "Resource has been exhausted (e.g. check quota).",
            grpc.StatusCode.UNAVAILABLE: "The service is currently unavailable.",
            grpc.StatusCode.INTERNAL: "Internal error encountered.",
            grpc.StatusCode.DEADLINE_EXCEEDED: "Deadline Exceeded",
        }.get(code, f"emulated fault {fault_id}")


def create_provider(data_dir: Path | None = None) -> SpeechProvider:
    return SpeechProvider(data_dir)
