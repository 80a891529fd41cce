"""A request rate shared by every worker process: GCRA state in one PostgreSQL row per key.

Each call reserves the next free slot atomically (one UPDATE under the row lock), so two
processes can never take the same slot, and it costs one round trip whatever the number of
workers. A caller whose slot is near waits for it; one whose slot is far away does not hold
an activity slot asleep: it raises a retryable ApplicationError whose next_retry_delay is the
wait, and Temporal brings it back then.
"""

import asyncio
from datetime import timedelta

from sqlalchemy import text
from temporalio import activity
from temporalio.exceptions import ApplicationError

from store.db import Database

# Requests reach the provider with some jitter after their reserved slot (event-loop and process
# scheduling, the network). Slots a third wider than the rate keep every one-second window at the
# provider at or under the rate for stalls up to a third of a second: at 0.9 and 0.8, two busy
# workers sharing two cores with the rest of the stack were measured one request over.
HEADROOM = 0.75

# The slot (greatest(tat, clock)) is when the granted request may go out; its second feeds the
# observed-rate figures. clock_timestamp(), not now(): under contention the statement waits for
# the row lock, and the transaction's start time would be stale by then.
_RESERVE = text(
    """
    INSERT INTO rate_limits AS r (key, tat, window_second, window_count, peak_per_second, total)
    VALUES (
        :key,
        clock_timestamp() + make_interval(secs => :interval),
        floor(extract(epoch FROM clock_timestamp())),
        1, 1, 1
    )
    ON CONFLICT (key) DO UPDATE SET
        tat = greatest(r.tat, clock_timestamp()) + make_interval(secs => :interval),
        window_second = floor(extract(epoch FROM greatest(r.tat, clock_timestamp()))),
        window_count = CASE
            WHEN r.window_second = floor(extract(epoch FROM greatest(r.tat, clock_timestamp())))
            THEN r.window_count + 1 ELSE 1 END,
        peak_per_second = greatest(
            r.peak_per_second,
            CASE WHEN r.window_second = floor(extract(epoch FROM greatest(r.tat, clock_timestamp())))
                 THEN r.window_count + 1 ELSE 1 END
        ),
        total = r.total + 1
    WHERE greatest(r.tat, clock_timestamp()) <= clock_timestamp() + make_interval(secs => :max_wait)
    RETURNING extract(epoch FROM r.tat - clock_timestamp()) - :interval AS wait
    """
)
_BACKLOG = text("SELECT extract(epoch FROM tat - clock_timestamp()) FROM rate_limits WHERE key = :key")


class RateLimiter:
    def __init__(self, database: Database, max_wait: timedelta = timedelta(seconds=30)) -> None:
        self._database = database
        self._max_wait = max_wait.total_seconds()

    async def acquire(self, key: str, per_second: float) -> None:
        """Returns when the caller may send one request under `per_second` for `key`."""
        interval = 1.0 / (per_second * HEADROOM)
        params = {"key": key, "interval": interval, "max_wait": self._max_wait}
        async with self._database.statements() as conn:
            wait = (await conn.execute(_RESERVE, params)).scalar_one_or_none()
            if wait is None:
                backlog = (await conn.execute(_BACKLOG, {"key": key})).scalar_one()
        if wait is None:
            if activity.in_activity():
                activity.metric_meter().create_counter(
                    "tempoline_rate_limit_deferred", "Provider calls sent back to Temporal to wait for a slot"
                ).add(1, {"provider": key.split(":", 1)[0]})
            raise ApplicationError(
                f"{key} is at its rate of {per_second:g} requests/s; retrying when a slot frees up",
                type="RateLimited",
                next_retry_delay=timedelta(seconds=float(backlog)),
            )
        if activity.in_activity():
            activity.metric_meter().create_histogram_float(
                "tempoline_rate_limit_wait", "Time waited for a provider rate-limit slot", "seconds"
            ).record(max(0.0, float(wait)), {"provider": key.split(":", 1)[0]})
        if wait > 0:
            await asyncio.sleep(float(wait))
