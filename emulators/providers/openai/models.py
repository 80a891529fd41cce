"""``GET /v1/models``: the models this emulator answers for, as the real API lists a key's models
(``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``). A cheap
authenticated call: `tempoline doctor` checks an API key with it."""

from __future__ import annotations

from typing import Any

from emulators.providers.openai.transcription import GPT_TRANSCRIBE, WHISPER

# Chat is answered for any model; these are the ones tempoline asks for (OPENAI_ANALYSIS_MODEL's
# default) and the transcription models the emulator knows. (id, created, owned_by)
MODELS: tuple[tuple[str, int, str], ...] = (
    ("gpt-4o-2024-08-06", 1722814719, "system"),
    ("gpt-4o", 1715367049, "system"),
    *((model, 1742068463, "system") for model in GPT_TRANSCRIBE),
    (WHISPER, 1677532384, "openai-internal"),
)


def model_list() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": created, "owned_by": owner}
            for model, created, owner in MODELS
        ],
    }
