"""Errors a client (or a fuzzer) can provoke, and what the API's logs say about each request."""

import io
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from api.app import create_app
from core import logging
from core.settings import Settings


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logging.configure("api", stream=stream)
    yield stream
    logging.configure("test")


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def _company(api: httpx.AsyncClient, admin: dict[str, str], name: str = "Acme") -> dict:
    created = await api.post("/api/routing/companies", json={"name": name}, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/admin/tenants", {"name": "Ac\u0000me"}, "name"),
        ("/api/routing/companies", {"name": "Ac\u0000me"}, "name"),
    ],
)
async def test_nul_in_an_admin_text_field_is_a_422_naming_it(
    api: httpx.AsyncClient, admin_headers: dict[str, str], path: str, body: dict, field: str
):
    response = await api.post(path, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": field, "message": "must not contain the NUL character (U+0000)"}
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/routing/technicians", {"name": "Bo\u0000b"}, "name"),
        ("PATCH", "/api/routing/companies/me", {"name": "x\u0000"}, "name"),
        (
            "PUT",
            "/api/routing/connection",
            {
                "provider": "servicetitan",
                "tenant_id": "1\u0000",
                "client_id": "c",
                "client_secret": "s",
                "booking_provider_id": "b",
            },
            "tenant_id",
        ),
        (
            "POST",
            "/api/routing/jobs",
            {
                "summary": "Leak\u0000",
                "trade": "plumbing",
                "address": {"street": "1 Main St", "city": "SF", "state": "CA", "zip": "94107"},
                "homeowner": {"name": "Ann", "phone": "4155550134"},
            },
            "summary",
        ),
    ],
)
async def test_nul_in_a_company_text_field_is_a_422_naming_it(
    api: httpx.AsyncClient, admin_headers: dict[str, str], method: str, path: str, body: dict, field: str
):
    company = await _company(api, admin_headers)
    member = {"Authorization": f"Bearer {company['api_key']['key']}"}
    response = await api.request(method, path, json=body, headers=member)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_malformed_json_says_so_with_the_position_in_the_detail(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
):
    response = await api.post(
        "/api/admin/tenants",
        content=b'{"name": "x",}',
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "Invalid JSON"
    assert "not valid JSON" in body["detail"] and "character 13" in body["detail"]
    assert body["errors"][0]["field"] == "body"


async def test_a_non_utf8_codec_body_is_a_400_with_a_correlation_id(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
):
    response = await api.post(
        "/codec/decode",
        content=b'{"payloads": [{"data": "\xff"}]}',
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["correlation_id"] == response.headers["x-correlation-id"]


@pytest.mark.parametrize("operation", ["encode", "decode"])
async def test_the_codec_takes_no_payloads_as_protobuf_json_writes_them(
    api: httpx.AsyncClient, admin_headers: dict[str, str], operation: str
):
    # The `temporal` CLI sends `{}` for a query without arguments (protobuf JSON omits an empty list).
    response = await api.post(f"/codec/{operation}", json={}, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"payloads": []}


@pytest.fixture
async def failing_api(settings: Settings, temporal, clean_db: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app with one extra route that fails as a bug would."""
    app = create_app(settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def test_a_500_carries_the_correlation_id_of_its_log_line(
    failing_api: httpx.AsyncClient, log_lines: io.StringIO
):
    response = await failing_api.get("/broken", headers={"X-Correlation-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["correlation_id"] == "req-500"
    assert response.headers["x-correlation-id"] == "req-500"
    errors = [line for line in _lines(log_lines) if line["event"] == "unhandled error"]
    assert len(errors) == 1 and errors[0]["correlation_id"] == "req-500"
    assert "RuntimeError: a bug" in errors[0]["exception"]


async def test_one_access_log_line_per_request(
    api: httpx.AsyncClient, admin_headers: dict[str, str], log_lines: io.StringIO
):
    company = await _company(api, admin_headers)
    member = {"Authorization": f"Bearer {company['api_key']['key']}"}
    technician = await api.post("/api/routing/technicians", json={"name": "Bob"}, headers=member)
    response = await api.get(
        f"/api/routing/technicians/{technician.json()['id']}",
        headers={**member, "X-Correlation-ID": "req-access"},
    )
    assert response.status_code == 200
    access = [line for line in _lines(log_lines) if line["event"] == "request"]
    assert len(access) == 3
    line = access[-1]
    assert line["logger"] == "api.access" and line["service"] == "api"
    assert line["method"] == "GET" and line["route"] == "/api/routing/technicians/{technician_id}"
    assert line["status"] == 200 and line["duration_ms"] >= 0
    assert line["correlation_id"] == "req-access"
    assert line["tenant_id"] == company["id"]
    assert access[0]["route"] == "/api/routing/companies" and access[0]["status"] == 201


async def test_a_405_lists_every_method_of_the_path(api: httpx.AsyncClient, admin_headers: dict[str, str]):
    response = await api.put("/api/admin/tenants", headers=admin_headers)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}


async def test_a_tenant_name_is_limited_as_sent_then_trimmed(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
):
    # Found by `make fuzz`: the limit the schema states held only after trimming.
    padded = await api.post("/api/admin/tenants", json={"name": "  " + "a" * 119}, headers=admin_headers)
    assert padded.status_code == 422 and padded.json()["errors"][0]["field"] == "name"
    blank = await api.post("/api/admin/tenants", json={"name": "   "}, headers=admin_headers)
    assert blank.status_code == 422 and "blank" in blank.json()["errors"][0]["message"]
    trimmed = await api.post("/api/admin/tenants", json={"name": "  Acme  "}, headers=admin_headers)
    assert trimmed.status_code == 201 and trimmed.json()["name"] == "Acme"
