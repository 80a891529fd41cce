"""API keys: ``Authorization: Bearer <key>``, answered as the real API answers a missing or
wrong key. The emulator knows EMULATOR_OPENAI_API_KEY (default ``emulator-openai-key``) and any
key added through the control API."""

from __future__ import annotations

import os

from starlette.requests import Request

from emulators.providers.openai.errors import OpenAIError

DEFAULT_KEY = "emulator-openai-key"
NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
    "if you're accessing the API from your browser and are prompted for a username. You can obtain an "
    "API key from https://platform.openai.com/account/api-keys."
)


def masked(key: str) -> str:
    """The key as the 401 message shows it: its first 8 and last 4 characters."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


class ApiKeys:
    def __init__(self) -> None:
        self.keys = {os.environ.get("EMULATOR_OPENAI_API_KEY", DEFAULT_KEY)}
        self._initial = set(self.keys)

    def check(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise OpenAIError(401, NO_KEY)
        if key.strip() not in self.keys:
            raise OpenAIError(
                401,
                f"Incorrect API key provided: {masked(key.strip())}. "
                "You can find your API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def reset(self) -> None:
        self.keys = set(self._initial)
