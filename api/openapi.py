"""The OpenAPI document, corrected where pydantic's generated schema says less than the server
enforces, so that clients and fuzzers generated from it send what the server accepts."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Wall-clock times as the API reads and writes them (09:00, 17:30:00): OpenAPI's `format: time`
# is RFC 3339's full-time, which requires an offset these times must not have.
WALL_CLOCK = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


def _walk(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("format") == "time" and node.get("type") == "string":
            del node["format"]
            node["pattern"] = WALL_CLOCK
            node.setdefault("examples", ["09:00", "17:30"])
        for value in node.values():
            _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def _require_discriminators(schemas: dict[str, Any]) -> None:
    """A tagged union's tag has a default in each member model (so code can build one without
    it), yet the server needs it to choose the member: it is required on the wire."""
    for schema in list(schemas.values()):
        for node in _discriminators(schema):
            name = node["propertyName"]
            for ref in node.get("mapping", {}).values():
                member = schemas[ref.rsplit("/", 1)[-1]]
                required = member.setdefault("required", [])
                if name not in required:
                    required.insert(0, name)


def _discriminators(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("discriminator"), dict):
            found.append(node["discriminator"])
        for value in node.values():
            found.extend(_discriminators(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_discriminators(value))
    return found


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _walk(schema)
            _require_discriminators(schema.get("components", {}).get("schemas", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
