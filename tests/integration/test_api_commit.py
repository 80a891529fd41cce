"""Commit, then answer: a write the API acknowledged is visible on any other connection the
instant the response arrives, over real HTTP.

A deferred constraint trigger makes each commit take half a second, as on a loaded database:
had the API answered before committing, the read below would run inside that half second.
"""

from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest

from core.settings import Settings
from tests.integration.live_api import serve

SLOW_COMMIT = """
CREATE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT OR UPDATE ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_slow_commit();
"""


@pytest.fixture
def slow_commits(settings: Settings, clean_db: None) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(SLOW_COMMIT)
        try:
            yield conn
        finally:
            conn.execute("DROP TRIGGER test_slow_commit ON api_keys; DROP FUNCTION test_slow_commit()")


@pytest.fixture
async def live(settings: Settings, temporal, slow_commits) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield client


def _active_keys(conn: psycopg.Connection, key_id: str) -> int:
    # Blocking on purpose: while it runs, the server (same event loop) cannot run anything either.
    row = conn.execute(
        "SELECT count(*) FROM api_keys WHERE id = %s AND revoked_at IS NULL", (key_id,)
    ).fetchone()
    assert row is not None
    return row[0]


async def test_a_created_company_key_is_committed_when_the_201_arrives(
    live: httpx.AsyncClient, admin_headers: dict[str, str], slow_commits: psycopg.Connection
):
    created = await live.post("/api/routing/companies", json={"name": "Acme"}, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert _active_keys(slow_commits, created.json()["api_key"]["id"]) == 1


async def test_a_deleted_tenants_keys_are_revoked_when_the_204_arrives(
    live: httpx.AsyncClient, admin_headers: dict[str, str], slow_commits: psycopg.Connection
):
    company = (await live.post("/api/routing/companies", json={"name": "Acme"}, headers=admin_headers)).json()
    deleted = await live.delete(f"/api/admin/tenants/{company['id']}", headers=admin_headers)
    assert deleted.status_code == 204, deleted.text
    assert _active_keys(slow_commits, company["api_key"]["id"]) == 0
    member = {"Authorization": f"Bearer {company['api_key']['key']}"}
    assert (await live.get("/api/routing/companies/me", headers=member)).status_code == 401
