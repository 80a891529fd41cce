"""Request rates shared by every worker process: GCRA state in one PostgreSQL row per bucket.

A call names the buckets it counts against (e.g. the provider tenant's, capped in one place, and
the calling company's own, at the rate its connection asks for) and reserves the next slot free
in all of them at once: one statement, under the rows' locks, so two processes never take the
same slot. Each bucket's rate is the bucket's own, whoever calls: a company can slow its own
bucket, never another's.

A caller sleeps only when its slot is a few requests away (at most ``SLEEPERS`` callers per bucket
sleep at once, and never longer than ``MAX_WAIT``), so one bucket's backlog cannot fill the
worker's activity slots. The others raise a ``RateLimited`` ApplicationError whose
``next_retry_delay`` is their turn in the bucket's queue of deferred callers, so they come back
spread out at the rate rather than all at once; the workflow waits that long without counting
the deferral as a failed attempt.
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from temporalio import activity
from temporalio.exceptions import ApplicationError

from store.db import Database

RATE_LIMITED = "RateLimited"

# Requests reach the provider with some jitter after their reserved slot (event-loop and process
# scheduling, the network). Slots a third wider than the rate keep every one-second window at the
# provider at or under the rate for stalls up to a third of a second: at 0.9 and 0.8, two busy
# workers sharing two cores with the rest of the stack were measured one request over.
HEADROOM = 0.75
# A caller that wakes this much after its slot takes a fresh one rather than send late: within
# the headroom above, so that late ones cannot crowd one second at the provider.
STALE_AFTER = 0.2
# The callers of one bucket that may sleep for their slot at once, and the longest sleep.
SLEEPERS = 4
MAX_WAIT = timedelta(seconds=1)

WAIT_METRIC = "tempoline_rate_limit_wait_seconds"
# Prometheus buckets for WAIT_METRIC, in seconds (the SDK's defaults are milliseconds).
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Bucket:
    key: str
    per_second: float

    @property
    def interval(self) -> float:
        """Seconds between two slots."""
        return 1 / (self.per_second * HEADROOM)


# The slot is greatest(every bucket's tat, clock): when the granted requests may go out; each
# bucket's tat moves past it by its own interval. Its second feeds the observed-rate figures.
# clock_timestamp(), not now(): under contention the statement waits for the row locks, and the
# transaction's start time would be stale by then. Rows are locked in key order (no deadlock).
_RESERVE = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:secs AS float8[])) AS w(key, secs)
    ), locked AS (
        SELECT r.key, r.tat FROM rate_limits AS r
        WHERE r.key = ANY(CAST(:keys AS text[])) ORDER BY r.key FOR UPDATE
    ), slot AS (
        SELECT greatest(max(tat), clock_timestamp()) AS at, floor(extract(epoch FROM greatest(max(tat),
               clock_timestamp()))) AS second
        FROM locked
    )
    UPDATE rate_limits AS r SET
        tat = slot.at + make_interval(secs => w.secs),
        window_second = slot.second,
        window_count = CASE WHEN r.window_second = slot.second THEN r.window_count + 1 ELSE 1 END,
        peak_per_second = greatest(
            r.peak_per_second,
            CASE WHEN r.window_second = slot.second THEN r.window_count + 1 ELSE 1 END
        ),
        total = r.total + 1
    FROM slot, wanted AS w
    WHERE r.key = w.key AND slot.at <= clock_timestamp() + make_interval(secs => :max_wait)
    RETURNING extract(epoch FROM slot.at - clock_timestamp()) AS wait
    """
)
_CREATE = text(
    """
    INSERT INTO rate_limits (key, tat)
    SELECT key, clock_timestamp() FROM unnest(CAST(:keys AS text[])) AS k(key)
    ON CONFLICT (key) DO NOTHING
    """
)
# A refused caller takes the next turn in the queue of deferred callers (its own row, whose tat is
# when the last deferred caller was told to come back), at the earliest once the backlog is gone.
_DEFER = text(
    """
    WITH backlog AS (
        SELECT greatest(max(tat), clock_timestamp()) AS at FROM rate_limits
        WHERE key = ANY(CAST(:keys AS text[]))
    )
    INSERT INTO rate_limits AS r (key, tat)
    SELECT :queue, backlog.at + make_interval(secs => :secs) FROM backlog
    ON CONFLICT (key) DO UPDATE
        SET tat = greatest(r.tat, EXCLUDED.tat - make_interval(secs => :secs)) + make_interval(secs => :secs)
    RETURNING extract(epoch FROM r.tat - clock_timestamp()) - :secs AS delay
    """
)


class RateLimiter:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def acquire(
        self,
        buckets: Sequence[Bucket],
        labels: Mapping[str, str],
    ) -> None:
        """Returns when the caller may send one request under every bucket's rate, or raises
        RateLimited."""
        slowest = max(buckets, key=lambda b: b.interval)
        late = await self._slot(buckets, labels, slowest)
        if late > STALE_AFTER:
            # Woken that late (a starved event loop), this request would go out beside those of
            # the slots after it, more than the rate in one second at the provider: it takes a
            # fresh slot instead, once (the one it had goes unused: the rate only errs low).
            await self._slot(buckets, labels, slowest)

    async def _slot(self, buckets: Sequence[Bucket], labels: Mapping[str, str], slowest: Bucket) -> float:
        """Reserves the next slot and sleeps until it; answers how late the sleep ended."""
        max_wait = min(MAX_WAIT.total_seconds(), SLEEPERS * slowest.interval)
        params = {
            "keys": [b.key for b in buckets],
            "secs": [b.interval for b in buckets],
            "max_wait": max_wait,
        }
        async with self._database.statements() as conn:
            wait = (await conn.execute(_RESERVE, params)).scalar()
            if wait is None and (await conn.execute(_CREATE, params)).rowcount:
                wait = (await conn.execute(_RESERVE, params)).scalar()  # a bucket's first call
            if wait is None:
                queue = f"{slowest.key}:deferred"
                turn = {"keys": params["keys"], "queue": queue, "secs": slowest.interval}
                delay = float((await conn.execute(_DEFER, turn)).scalar_one())
        meter = activity.metric_meter() if activity.in_activity() else None
        if wait is None:
            if meter is not None:
                meter.create_counter(
                    "tempoline_rate_limit_deferrals_total",
                    "Provider calls sent back to wait for their turn under a rate limit",
                ).add(1, dict(labels))
            attempt = activity.info().attempt if activity.in_activity() else 1
            raise ApplicationError(
                f"{slowest.key} is at its rate of {slowest.per_second:g} requests/s; "
                f"retrying in {delay:.1f}s, when its turn comes",
                attempt,
                type=RATE_LIMITED,
                next_retry_delay=timedelta(seconds=max(delay, 0.001)),
            )
        wait = max(0.0, float(wait))
        if meter is not None:
            meter.create_histogram_float(
                WAIT_METRIC, "Time a provider call slept for its rate-limit slot", "seconds"
            ).record(wait, dict(labels))
        until = time.monotonic() + wait
        if wait > 0:
            await asyncio.sleep(wait)
        return time.monotonic() - until
