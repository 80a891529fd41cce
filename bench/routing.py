"""Routing against the bare engine, same stack, same run.

Throughput: service jobs to synced bookings per second vs bare workflows per second, where a
bare workflow runs as many no-op activities, one after the other, as one routed job does.
Latency: `POST /api/routing/jobs` p99 vs a bare `start_workflow` p99, both from 32 clients.

The latency phase runs with no worker polling: it measures accepting work, not the contention
of doing it on the same two cores, and what it starts is the backlog the throughput phase then
drains, each kind with its own worker processes (one per core), half a backlog at a time in the
order bare, routing, routing, bare (docs/benchmarks.md).

`python -m bench.routing [jobs] [clients] [shaped] [profile]` (500 jobs, 32 clients: about 4
minutes on two cores); prints `BENCH routing ...` lines last. `shaped` adds a third workload, the
routing workflows' engine work with no-op activities, which splits the gap into engine and
activities. `profile` samples the routing workers with py-spy and counts PostgreSQL's statements
during the routing drains (bench/_profile.py), and prints where the CPU went.
"""

import asyncio
import itertools
import os
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path

import httpx
import psycopg
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from bench import _profile
from bench._engine import BareWorkflow, ShapedJobWorkflow
from bench._engine_work import Work, done_file
from bench._engine_worker import BARE_QUEUE, SHAPED_QUEUE
from bench._http import LoadClient
from bench._measure import Phase, closed, concurrently, flag_busy_machine, percentile, until
from bench._stack import Stack, company, job_body, receiver, running_stack, worker_processes
from domain import search_attributes as sa
from domain.routing.contracts import TASK_QUEUE, job_workflow_id, routing_workflow_id

THROUGHPUT_TARGET = 0.6
LATENCY_TARGET = 2.0
RECEIVERS = 10
WARMUP = 32
# One worker process per core for each kind, as a deployment on this machine would run them:
# a Python worker uses one core at most, and the product scales workers by processes.
WORKER_PROCESSES = os.cpu_count() or 1
WORKER_PY = Path(__file__).parent.parent / "worker.py"
# After a drain, before its worker stops: the workflow tasks that follow the last activities.
SETTLE = 2.0
# The target for the stack's CPU per routed job (#17: half of 0.24 s).
CPU_TARGET = 0.12
# Histories read for the events-per-job figures, of each kind.
HISTORY_SAMPLE = 20


async def run(jobs: int, clients: int, shaped: bool, profile: bool) -> None:
    options = ["shared_preload_libraries=pg_stat_statements"] if profile else []
    async with (
        running_stack(options) as stack,
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        LoadClient(stack.api_url, clients) as load,
    ):
        await _measure(stack, api, load, jobs, clients, shaped, profile)


async def _measure(
    stack: Stack,
    api: httpx.AsyncClient,
    load: LoadClient,
    jobs: int,
    clients: int,
    shaped: bool,
    profile: bool,
) -> None:
    fan_out_one = {"kind": "fan_out", "fan_out_count": 1}
    _, referrer = await company(api, stack.admin, "Referrer", mode=fan_out_one)
    for n in range(RECEIVERS):
        # The API's highest rate per connection, the emulator far above it: the limiter never waits.
        await receiver(api, stack, n, referrer, rate_limit_per_second=60, emulator_rate_limit=1000)
    client = stack.temporal.client
    db = await psycopg.AsyncConnection.connect(stack.settings.database_url or "", autocommit=True)

    bare_ids: list[str] = []

    async def start_bare(n: int) -> None:
        bare_ids.append(f"bench-bare-{uuid.uuid4()}")
        await client.start_workflow(
            BareWorkflow.run, Work(kind="bare"), id=bare_ids[-1], task_queue=BARE_QUEUE
        )

    async def start_shaped(n: int) -> None:
        # As the API starts a ServiceJob: a search attribute, duplicate ids rejected.
        await client.start_workflow(
            ShapedJobWorkflow.run,
            Work(kind="shaped"),
            id=f"bench-shaped-{uuid.uuid4()}",
            task_queue=SHAPED_QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(sa.TENANT_ID, "bench")]),
        )

    async def post_job(n: int) -> None:
        status, body = await load.post("/api/routing/jobs", job_body(n), referrer)
        assert status == 202, body

    def done(kind: str) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            path = done_file(stack.done_dir, kind)
            return path.stat().st_size if path.exists() else 0

        return count

    bare_done, shaped_done = done("bare"), done("shaped")

    async def synced() -> int:
        row = await (await db.execute("SELECT count(*) FROM routings WHERE status = 'synced'")).fetchone()
        assert row is not None
        return row[0]

    def workers(queue: str) -> AbstractAsyncContextManager[list[int]]:
        python = sys.executable
        argv = [python, "-m", "bench._engine_worker", queue]
        if queue == TASK_QUEUE:
            argv = [python, str(WORKER_PY), "--queues", "routing"]
        return worker_processes(stack, queue, argv, WORKER_PROCESSES)

    # Warm-up, workers on: the dev server, PostgreSQL, the emulator and the API warm.
    async with workers(BARE_QUEUE), workers(SHAPED_QUEUE), workers(TASK_QUEUE):
        await concurrently(WARMUP, clients, start_bare)
        await concurrently(WARMUP, clients, lambda n: post_job(jobs + n))
        await closed(client, "BenchBareRouting", WARMUP)
        await until(synced, WARMUP, "warm-up routings synced")
        if shaped:
            await concurrently(WARMUP, clients, start_shaped)
            await until(shaped_done, WARMUP, "warm-up shaped jobs")
            await closed(client, "BenchShapedJob", WARMUP)
        await asyncio.sleep(SETTLE)

    async def drain(kind: str, target: int) -> float:
        """Seconds for `kind`'s own worker processes, started on its backlog, to finish `target`
        jobs in all; the workflows' last tasks run before the workers stop."""
        if kind == "bare":
            async with workers(BARE_QUEUE):
                with bare_drain:
                    took = await until(bare_done, target, "bare jobs done")
                await closed(client, "BenchBareRouting", target)
            return took
        async with workers(TASK_QUEUE) as pids, AsyncExitStack() as sampled:
            if profile:
                profiles.extend(await sampled.enter_async_context(_profile.sampling(pids, profile_dir)))
            with routing_drain:
                took = await until(synced, target, "routings synced")
            await asyncio.sleep(SETTLE)  # the routings' last workflow tasks, to the follow timer
        return took

    profile_dir = stack.root.parent / f"{stack.root.name}-profile"
    profiles: list[Path] = []
    if profile:
        await _profile.reset_statements(stack.settings.database_url or "")

    bare_latency: list[float] = []
    api_latency: list[float] = []
    bare_start, api_post = Phase(stack), Phase(stack)
    bare_drain, shaped_drain, routing_drain = Phase(stack), Phase(stack), Phase(stack)
    if shaped:
        await concurrently(jobs, clients, start_shaped)
        async with workers(SHAPED_QUEUE):
            with shaped_drain:
                shaped_seconds = await until(shaped_done, WARMUP + jobs, "shaped jobs done")
            await asyncio.sleep(SETTLE)
    # Two rounds of half the jobs each: latency, then each backlog drained to the end, the bare
    # engine first in the first round and last in the second. The machine's speed drifts (it has
    # neighbours); in this order a drift over the run costs both kinds alike.
    seconds = {"bare": 0.0, "routing": 0.0}
    done = {"bare": WARMUP, "routing": WARMUP}
    numbers = itertools.count()
    for order, count in ((("bare", "routing"), jobs // 2), (("routing", "bare"), jobs - jobs // 2)):
        # Latency, no worker polling: what accepting a job costs. What it starts is the backlog.
        # Halves in the order bare, API, API, bare, for the same reason.
        half = count // 2
        for phase, samples, call, n in (
            (bare_start, bare_latency, start_bare, half),
            (api_post, api_latency, lambda _: post_job(next(numbers)), half),
            (api_post, api_latency, lambda _: post_job(next(numbers)), count - half),
            (bare_start, bare_latency, start_bare, count - half),
        ):
            with phase:
                samples += await concurrently(n, clients, call)
        # Throughput: each backlog drained by its own worker processes.
        for kind in order:
            done[kind] += count
            seconds[kind] += await drain(kind, done[kind])
    bare_seconds, routing_seconds = seconds["bare"], seconds["routing"]

    sampled_jobs = await (
        await db.execute(
            "SELECT job_id, id FROM routings WHERE status = 'synced' ORDER BY random() LIMIT %s",
            (HISTORY_SAMPLE,),
        )
    ).fetchall()
    workflow_ids = [(job_workflow_id(job), routing_workflow_id(routing)) for job, routing in sampled_jobs]
    routing_events = await _profile.history_events(client, [w for pair in workflow_ids for w in pair])
    bare_events = await _profile.history_events(client, bare_ids[-HISTORY_SAMPLE:])
    spread = await (
        await db.execute("SELECT count(*) FROM routings GROUP BY receiver_id ORDER BY 1")
    ).fetchall()
    failed = await (
        await db.execute("SELECT count(*) FROM routing_events WHERE outcome = 'failed'")
    ).fetchone()
    sessions = await (
        await db.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
    ).fetchone()
    await db.close()

    bare_rate, routing_rate = jobs / bare_seconds, jobs / routing_seconds
    bare_p99, api_p99 = percentile(bare_latency, 99), percentile(api_latency, 99)
    print(f"routings per receiver (warm-up included): {[n for (n,) in spread]}")
    print(f"failed provider attempts: {failed[0] if failed else 0}")
    # Connections opened over the run: a pool too small for the clients opens and closes its
    # overflow on every burst, each a PostgreSQL backend started.
    print(f"PostgreSQL sessions opened: {sessions[0] if sessions else 0}")
    bare_start.report("start_workflow")
    api_post.report("POST /api/routing/jobs")
    bare_drain.report("bare drain")
    if shaped:
        shaped_drain.report("shaped drain")
    routing_drain.report("routing drain")
    bare_cost, routing_cost = bare_drain.stack_cpu / jobs, routing_drain.stack_cpu / jobs
    if profile:
        _profile.report_samples(profiles, routing_drain.cpu["worker"], jobs)
        await _profile.report_statements(stack.settings.database_url or "", jobs)
        print(f"py-spy samples (collapsed stacks) in {profile_dir}")
    routing_per_job = Counter({k: v / len(sampled_jobs) for k, v in routing_events.items()})
    print("history events per routed job (job and routing workflows), by type:")
    for kind, count in routing_per_job.most_common():
        print(f"  {count:5.1f}  {kind.removesuffix('_event_attributes')}")
    print(
        f"stack CPU s per job: bare {bare_cost:.3f}, routing {routing_cost:.3f}; their ratio "
        f"{bare_cost / routing_cost:.2f} is the throughput ratio a CPU-bound quiet machine gives"
    )
    phases = [bare_start, api_post, bare_drain, routing_drain] + ([shaped_drain] if shaped else [])
    flag_busy_machine(phases)
    print(
        f"start_workflow ms p50 {percentile(bare_latency, 50) * 1e3:.1f} p99 {bare_p99 * 1e3:.1f}; "
        f"POST /api/routing/jobs ms p50 {percentile(api_latency, 50) * 1e3:.1f} p99 {api_p99 * 1e3:.1f}"
    )
    routing_events_per_job = sum(routing_events.values()) / len(sampled_jobs)
    bare_events_per_job = sum(bare_events.values()) / min(len(bare_ids), HISTORY_SAMPLE)
    print(f"BENCH routing bare_cpu_s_per_job {bare_cost:.3f}")
    print(f"BENCH routing bare_history_events_per_job {bare_events_per_job:.1f}")
    print(f"BENCH routing bare_workflows_per_s {bare_rate:.2f}")
    if shaped:
        print(f"BENCH routing shaped_jobs_per_s {jobs / shaped_seconds:.2f}")
        print(f"BENCH routing shaped_ratio {jobs / shaped_seconds / bare_rate:.2f}")
    print(f"BENCH routing cpu_s_per_job {routing_cost:.3f} target <={CPU_TARGET}")
    print(f"BENCH routing history_events_per_job {routing_events_per_job:.1f}")
    print(f"BENCH routing jobs_per_s {routing_rate:.2f}")
    print(f"BENCH routing throughput_ratio {routing_rate / bare_rate:.2f} target >={THROUGHPUT_TARGET}")
    print(f"BENCH routing start_workflow_p99_ms {bare_p99 * 1e3:.1f}")
    print(f"BENCH routing post_job_p99_ms {api_p99 * 1e3:.1f}")
    print(f"BENCH routing p99_ratio {api_p99 / bare_p99:.2f} target <={LATENCY_TARGET}")


def main(jobs: int = 500, clients: int = 32, shaped: bool = False, profile: bool = False) -> None:
    asyncio.run(run(jobs, clients, shaped, profile))


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(*numbers[:2], shaped="shaped" in sys.argv[1:], profile="profile" in sys.argv[1:])  # type: ignore[arg-type]
