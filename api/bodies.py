"""JSON request bodies must hold text PostgreSQL can store: it refuses the NUL character.

One check for every route and every text field, nested or not: a body whose JSON has a string
with U+0000 is a 422 naming where it is, before any route sees it.
"""

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

# How U+0000 can appear in JSON text: only escaped (a raw control character is invalid JSON).
_ESCAPED_NUL = b"\\u0000"


def _nul_at(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return (*path, key.replace("\x00", "\\u0000"))
            found = _nul_at(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, (*path, index))
            if found is not None:
                return found
    return None


async def no_nul_characters(request: Request) -> None:
    """An app-wide dependency. Runs after FastAPI has parsed the body, so it re-reads the cached
    bytes; bodies of other media types (uploads, streamed) are left alone, and so are those of
    routes that declare no body model: they read (stream) their body themselves, and reading it
    here would hold all of it in memory, whatever its content type says."""
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.split(";")[0]:
        return
    if getattr(request.scope.get("route"), "body_field", None) is None:
        return
    if _ESCAPED_NUL not in await request.body():
        return
    try:
        body = await request.json()
    except ValueError:
        return  # not JSON at all: the route's own parsing reports it
    where = _nul_at(body)
    if where is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_nul",
                    "loc": ("body", *where),
                    "msg": "must not contain the NUL character (U+0000)",
                    "input": None,
                }
            ]
        )
