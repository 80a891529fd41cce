"""The OpenAI routes, relative to ``/openai`` (OPENAI_BASE_URL=<emulator>/openai/v1)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.providers.openai.chat import completion
from emulators.providers.openai.errors import OpenAIError
from emulators.providers.openai.models import model_list
from emulators.providers.openai.transcription import transcribe

if TYPE_CHECKING:
    from emulators.providers.openai import OpenAIProvider

BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


def routes(provider: OpenAIProvider) -> list[Route]:
    def endpoint(
        handler: Callable[[Request, bytes], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def call(request: Request) -> Response:
            try:
                provider.keys.check(request)
                response = await handler(request, await request.body())
            except OpenAIError as error:
                response = error.response()
            response.headers["x-request-id"] = f"req_{secrets.token_hex(16)}"
            return response

        return call

    async def chat(request: Request, body: bytes) -> Response:
        try:
            payload = json.loads(body)
        except ValueError:
            raise OpenAIError(400, BAD_JSON) from None
        return JSONResponse(completion(payload, provider.answers))

    async def transcriptions(request: Request, body: bytes) -> Response:
        return await transcribe(request, body, provider.transcripts)

    async def models(request: Request, body: bytes) -> Response:
        return JSONResponse(model_list())

    return [
        Route("/v1/chat/completions", endpoint(chat), methods=["POST"]),
        Route("/v1/audio/transcriptions", endpoint(transcriptions), methods=["POST"]),
        Route("/v1/models", endpoint(models), methods=["GET"]),
    ]
