from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from emulators.app import create_app

APP_KEY = "emulator-app-key"
TENANT = "123"
AUTH = "/servicetitan/auth/connect/token"
API = "/servicetitan/api"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://emu") as c:
        yield c


async def provision(client: httpx.AsyncClient, tenant: str = TENANT, **extra: Any) -> dict[str, Any]:
    body = {"tenant_id": tenant, "client_id": f"cid-{tenant}", "client_secret": "secret", **extra}
    r = await client.post("/_control/servicetitan/tenants", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def get_token(client: httpx.AsyncClient, tenant: str = TENANT, secret: str = "secret") -> str:
    r = await client.post(
        AUTH,
        data={"grant_type": "client_credentials", "client_id": f"cid-{tenant}", "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def headers(token: str, app_key: str = APP_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "ST-App-Key": app_key}


@pytest.fixture
async def st(client: httpx.AsyncClient) -> dict[str, str]:
    """A provisioned tenant; returns the API headers for it."""
    await provision(client)
    return headers(await get_token(client))
