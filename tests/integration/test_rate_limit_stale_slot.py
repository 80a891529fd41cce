"""A caller whose event loop stalls past its rate-limit slot takes a fresh slot instead of
sending late, beside the requests of the slots after its own (two of those in one second at the
provider are what the two-worker test once saw: 11 in a second under a limit of 10)."""

import asyncio
import time
import uuid

import psycopg

from activities.rate_limit import STALE_AFTER, Bucket, RateLimiter
from core.settings import Settings
from store.db import Database


def _taken(settings: Settings, key: str) -> int:
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        [(total,)] = conn.execute("SELECT total FROM rate_limits WHERE key = %s", (key,)).fetchall()
    return int(total)


async def test_a_caller_woken_after_its_slot_takes_a_fresh_one(settings: Settings) -> None:
    database = Database(settings.database_url or "", pool_size=2)
    limiter = RateLimiter(database)
    bucket = Bucket(f"test:{uuid.uuid4()}", per_second=10)  # a slot every 133 ms
    try:
        await limiter.acquire([bucket], {})  # now
        on_time = asyncio.create_task(limiter.acquire([bucket], {}))  # in 133 ms
        await asyncio.sleep(0.05)  # it has reserved its slot and sleeps
        time.sleep(STALE_AFTER + 0.25)  # noqa: ASYNC251 (the event loop stalls past that slot)
        await on_time
    finally:
        await database.close()
    # Three slots taken for two requests: the stalled one's was given up.
    assert await asyncio.to_thread(_taken, settings, bucket.key) == 3


async def test_a_caller_on_time_takes_one_slot(settings: Settings) -> None:
    database = Database(settings.database_url or "", pool_size=2)
    limiter = RateLimiter(database)
    bucket = Bucket(f"test:{uuid.uuid4()}", per_second=10)
    try:
        await limiter.acquire([bucket], {})  # the bucket's first call makes its row
        await asyncio.gather(*(limiter.acquire([bucket], {}) for _ in range(2)))
    finally:
        await database.close()
    assert await asyncio.to_thread(_taken, settings, bucket.key) == 3
