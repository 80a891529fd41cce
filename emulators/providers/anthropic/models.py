"""``GET /v1/models``: the models this emulator lists, newest first, paged as the real API pages
them (``limit`` 1 to 1000, default 20; ``after_id`` / ``before_id`` cursors; ``data``,
``has_more``, ``first_id``, ``last_id``). A cheap authenticated call: `tempoline doctor` checks an
API key with it."""

from __future__ import annotations

from typing import Any

from emulators.providers.anthropic.errors import invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# Messages are answered for any `claude-` model; these are listed, newest first: the one
# tempoline asks for (ANTHROPIC_ANALYSIS_MODEL's default) and two others. (id, name, released)
MODELS: tuple[tuple[str, str, str], ...] = (
    ("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-30T00:00:00Z"),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-04T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
)


def model_page(query: dict[str, str]) -> dict[str, Any]:
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit: Input should be between 1 and {MAX_LIMIT}")
    ids = [model for model, _, _ in MODELS]
    start, end = 0, len(ids)
    if "after_id" in query:
        start = ids.index(query["after_id"]) + 1 if query["after_id"] in ids else end
    if "before_id" in query:
        end = ids.index(query["before_id"]) if query["before_id"] in ids else 0
    # before_id pages backwards: the `limit` models just before the cursor.
    window = list(MODELS[start:end])
    page = window[-limit:] if "before_id" in query else window[:limit]
    data = [
        {"type": "model", "id": model, "display_name": name, "created_at": released}
        for model, name, released in page
    ]
    return {
        "data": data,
        "has_more": len(page) < len(window),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
