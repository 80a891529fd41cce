"""Temporal remote codec endpoints, so the Web UI and `temporal` CLI show decoded payloads.

Two doors: `Authorization: Bearer <admin api key>` for tools, and `/codec/ui/{token}` for the Web UI,
which cannot send our bearer header; the token is derived from the encryption key, so only whoever
configured the UI (the dev stack, or the deployment) knows it. Both are for operators: one key
encrypts every tenant's payloads, so a tenant's key may not decode them.
"""

import hashlib
import hmac
import json

from fastapi import APIRouter, Depends, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import admin
from api.problems import ERROR_RESPONSES, ProblemError, responses
from core.codec import EncryptionCodec
from core.crypto import DecryptionError

router = APIRouter(prefix="/codec", tags=["codec"], responses=ERROR_RESPONSES)


def ui_token(encryption_key: str) -> str:
    return hmac.new(encryption_key.encode(), b"tempoline web-ui codec", hashlib.sha256).hexdigest()


async def _transcode(request: Request, operation: str) -> Response:
    invalid = ProblemError(400, "Invalid payloads", 'Body must be UTF-8 JSON `{"payloads": [...]}`.')
    try:
        body = json.loads(await request.body())
        # Protobuf's JSON leaves out an empty list: the `temporal` CLI sends `{}` for a query
        # without arguments.
        if not isinstance(body, dict) or not isinstance(body.get("payloads", []), list):
            raise invalid
        payloads = json_format.ParseDict(body, Payloads())
    except (json_format.ParseError, ValueError) as exc:  # ValueError: not UTF-8, not JSON
        raise invalid from exc
    codec: EncryptionCodec = request.app.state.codec
    try:
        result = await getattr(codec, operation)(list(payloads.payloads))
    except DecryptionError as exc:
        raise ProblemError(400, "Invalid payloads", f"A payload could not be decrypted: {exc}.") from exc
    # Built by hand: protobuf's JSON leaves out an empty list, and clients expect `payloads`.
    answer = {"payloads": [json_format.MessageToDict(payload) for payload in result]}
    return Response(json.dumps(answer), media_type="application/json")


# The body is read as protobuf JSON (not a pydantic model): documented here for clients and fuzzers.
_PAYLOADS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "payloads": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    # Protobuf's JSON reads null as "not set", as it does an absent member.
                    "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
                    "data": {"type": ["string", "null"], "description": "base64"},
                },
            },
        }
    },
}
CODEC = {
    "openapi_extra": {
        "requestBody": {"required": True, "content": {"application/json": {"schema": _PAYLOADS}}}
    },
    "responses": {
        200: {"content": {"application/json": {"schema": _PAYLOADS}}, "description": "The payloads"},
        **responses({400: "Not UTF-8 JSON payloads, or a payload that cannot be decrypted"}),
    },
}


@router.post("/encode", dependencies=[Depends(admin)], **CODEC)
async def encode(request: Request) -> Response:
    return await _transcode(request, "encode")


@router.post("/decode", dependencies=[Depends(admin)], **CODEC)
async def decode(request: Request) -> Response:
    return await _transcode(request, "decode")


@router.post("/ui/{token}/{operation}", include_in_schema=False)
async def web_ui(token: str, operation: str, request: Request) -> Response:
    expected = ui_token(request.app.state.settings.encryption_key)
    if not hmac.compare_digest(token, expected) or operation not in ("encode", "decode"):
        raise ProblemError(404, "Not found")
    return await _transcode(request, operation)
