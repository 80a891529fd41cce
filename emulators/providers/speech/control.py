"""Speech control endpoints, mounted under ``/_control/speech``: scripted transcripts, the time
long-running recognitions take, operations and call counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.control import control_endpoint, read_model
from emulators.providers.speech.state import Script, Settings

if TYPE_CHECKING:
    from emulators.providers.speech import SpeechProvider


def control_routes(provider: SpeechProvider) -> list[Route]:
    state = provider.state

    async def add_transcript(request: Request) -> Response:
        script = await read_model(request, Script)
        state.script(script)
        return JSONResponse(script.model_dump(mode="json"), status_code=201)

    async def list_transcripts(request: Request) -> Response:
        return JSONResponse({"transcripts": [s.model_dump(mode="json") for s in state.scripts.values()]})

    async def delete_transcript(request: Request) -> Response:
        key = request.path_params["key"]
        if not state.unscript(key):
            return JSONResponse({"error": f"no transcript {key}"}, status_code=404)
        return JSONResponse({"deleted": key})

    async def settings(request: Request) -> Response:
        state.configure(await read_model(request, Settings))
        return JSONResponse(state.settings.model_dump(mode="json"))

    async def operations(request: Request) -> Response:
        return JSONResponse(
            {
                "operations": [
                    {
                        "name": op.name,
                        "key": op.key,
                        "progress_percent": op.progress(),
                        "done": op.progress() >= 100,
                    }
                    for op in state.operations.values()
                ]
            }
        )

    async def stats(request: Request) -> Response:
        return JSONResponse({"calls": provider.calls.to_json()})

    return [
        Route("/transcripts", control_endpoint(add_transcript), methods=["POST"]),
        Route("/transcripts", list_transcripts, methods=["GET"]),
        Route("/transcripts/{key:path}", delete_transcript, methods=["DELETE"]),
        Route("/settings", control_endpoint(settings), methods=["POST"]),
        Route("/operations", operations, methods=["GET"]),
        Route("/stats", stats, methods=["GET"]),
    ]
