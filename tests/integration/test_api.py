"""The API as a client sees it: authentication, tenancy administration, errors, health, metrics."""

import httpx

from cli import postgres
from core.settings import Settings
from tests.conftest import api_client, start_migrated_postgres


async def _tenant_and_member_key(api: httpx.AsyncClient, admin: dict[str, str]) -> tuple[str, str, str]:
    tenant = (await api.post("/api/admin/tenants", json={"name": "Acme Plumbing"}, headers=admin)).json()
    created = await api.post(
        "/api/admin/api-keys",
        headers=admin,
        json={"tenant_id": tenant["id"], "name": "ops", "role": "member"},
    )
    assert created.status_code == 201
    return tenant["id"], created.json()["id"], created.json()["key"]


async def test_missing_wrong_and_revoked_keys_are_401(api: httpx.AsyncClient, admin_headers: dict[str, str]):
    missing = await api.get("/api/admin/tenants")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == "Bearer"

    wrong = await api.get("/api/admin/tenants", headers={"Authorization": "Bearer tl_not-a-key"})
    assert wrong.status_code == 401

    company = await api.post("/api/routing/companies", json={"name": "Acme Plumbing"}, headers=admin_headers)
    key = company.json()["api_key"]
    member = {"Authorization": f"Bearer {key['key']}"}
    assert (await api.get("/api/routing/companies/me", headers=member)).status_code == 200
    assert (await api.delete(f"/api/admin/api-keys/{key['id']}", headers=admin_headers)).status_code == 204
    revoked = await api.get("/api/routing/companies/me", headers=member)
    assert revoked.status_code == 401
    assert revoked.json()["title"] == "Invalid API key"


async def test_member_key_on_admin_route_is_403(api: httpx.AsyncClient, admin_headers: dict[str, str]):
    _, _, key = await _tenant_and_member_key(api, admin_headers)
    response = await api.get("/api/admin/tenants", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


async def test_keys_are_stored_hashed(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
):
    import psycopg

    _, _, key = await _tenant_and_member_key(api, admin_headers)
    with psycopg.connect(settings.database_url) as conn:
        stored = conn.execute("SELECT key_hash, prefix FROM api_keys WHERE name = 'ops'").fetchone()
    assert stored is not None and key not in stored[0] and len(stored[0]) == 64


async def test_deleting_a_tenant_revokes_its_keys(api: httpx.AsyncClient, admin_headers: dict[str, str]):
    tenant_id, _, key = await _tenant_and_member_key(api, admin_headers)
    assert (await api.delete(f"/api/admin/tenants/{tenant_id}", headers=admin_headers)).status_code == 204
    listed = (await api.get("/api/admin/tenants", headers=admin_headers)).json()["items"]
    assert tenant_id not in [t["id"] for t in listed]
    refused = await api.post(
        "/codec/encode", json={"payloads": []}, headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 401


async def test_bad_input_is_a_problem_naming_the_field(api: httpx.AsyncClient, admin_headers: dict[str, str]):
    too_long = await api.post("/api/admin/tenants", json={"name": "x" * 121}, headers=admin_headers)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "name"

    wrong_type = await api.post(
        "/api/admin/api-keys",
        headers=admin_headers,
        json={"tenant_id": "not-a-uuid", "name": "k", "role": "member"},
    )
    assert wrong_type.status_code == 422 and "tenant_id" in wrong_type.json()["detail"]

    malformed = await api.post(
        "/api/admin/tenants",
        content=b"{not json",
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 422

    duplicate = await api.post("/api/admin/tenants", json={"name": "Same"}, headers=admin_headers)
    again = await api.post("/api/admin/tenants", json={"name": "Same"}, headers=admin_headers)
    assert duplicate.status_code == 201 and again.status_code == 409

    oversize = await api.post(
        "/api/admin/tenants",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert oversize.status_code == 413
    assert oversize.headers["content-type"] == "application/problem+json"


async def test_errors_carry_a_correlation_id(api: httpx.AsyncClient):
    response = await api.get("/api/admin/tenants", headers={"X-Correlation-ID": "req-42"})
    assert response.headers["x-correlation-id"] == "req-42"
    assert response.json()["correlation_id"] == "req-42"


async def test_health_ready_and_metrics(api: httpx.AsyncClient):
    health = (await api.get("/health")).json()
    assert health["status"] == "ok" and health["version"] and health["uptime_seconds"] >= 0
    assert (await api.get("/health/live")).status_code == 200
    ready = await api.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["components"]["postgresql"] == "ok"
    assert ready.json()["components"]["temporal"] == "ok"
    metrics = (await api.get("/metrics")).text
    assert 'tempoline_http_requests_total{method="GET",route="/health",status="200"}' in metrics
    assert 'route="/health/ready"' in metrics


async def test_readiness_names_postgresql_when_it_is_stopped(settings: Settings, temporal, tmp_path):
    port, process = start_migrated_postgres(tmp_path)
    own = settings.model_copy(update={"database_url": postgres.url(port, "tempoline")})
    async for api in api_client(own):
        assert (await api.get("/health/ready")).status_code == 200
        postgres.stop(process)
        down = await api.get("/health/ready")
        assert down.status_code == 503
        body = down.json()
        assert "postgresql" in body["detail"] and body["components"]["postgresql"].startswith("down")
        assert body["components"]["temporal"] == "ok"


async def test_a_database_restart_costs_one_retryable_503(settings: Settings, temporal, tmp_path):
    # Pooled connections are not pinged before use: the first request after a restart meets a
    # dead one, and the caller is told to retry, which then works.
    port, process = start_migrated_postgres(tmp_path)
    own = settings.model_copy(update={"database_url": postgres.url(port, "tempoline")})
    admin = {"Authorization": f"Bearer {settings.admin_api_key}"}
    async for api in api_client(own):
        assert (await api.get("/api/admin/tenants", headers=admin)).status_code == 200
        postgres.stop(process)
        process = postgres.start(tmp_path / "data", port, tmp_path / "postgres.log")
        try:
            postgres.wait_ready(port, process)
            lost = await api.get("/api/admin/tenants", headers=admin)
            assert lost.status_code == 503, lost.text
            assert lost.headers["retry-after"] == "1"
            assert lost.json()["title"] == "Database connection lost"
            assert (await api.get("/api/admin/tenants", headers=admin)).status_code == 200
        finally:
            postgres.stop(process)
