"""Platform jobs against the bare engine, same stack, same run (issue #13's benchmark).

Throughput: jobs running `true` on 2 real `tempoline executor` processes with 4 slots each,
created through `POST /api/platform/jobs` by 8 clients (CLIENTS), until every one has SUCCEEDED, vs bare
workflows started by as many clients until their last activity has run. A platform job does
four activities on the engine: three local ones (the store calls `platform.enqueue`,
`platform.started`, `platform.finish`) and the executor's `platform.executor.run`; the bare
workflow runs four regular no-op activities, one after the other (routing's baseline counts its
store calls as activities the same way, and a regular activity costs the engine more than a
local one, so the baseline is not flattered). Two rounds of half the jobs each, in the order
bare, platform, platform, bare, so that the machine's drift costs both alike; each kind with its
own worker processes (one per core: `worker.py --queues platform` for the jobs, as bench.routing
runs them), the executors up throughout.

Latency, one job at a time on idle workers (queueing behind other jobs is the throughput
figure's business): a platform job from its row's creation (`created_at`) to its JobStarted
audit row, both PostgreSQL's clock; a bare workflow from the client's `start_workflow` call to
its first activity's start. Alternated, one of each.

Logs: one job printing `log_mb` MB (100-byte lines) while the bench follows
`GET /api/platform/jobs/{id}/logs?follow=true` (the stream `tempoline job logs --follow` reads)
and samples the executors' (and the API's) VmRSS every 10 ms: every byte stored, the executor's
RSS growth, and how long after the job's end the stream ended.

`python -m bench.platform [jobs] [log_mb] [profile]` (500 jobs, 100 MB; `python -m bench platform
100` for a quick run); prints `BENCH platform ...` last. `profile` samples the executors, the
job workflows' workers and the API with py-spy during the platform rounds (bench/_profile.py).
"""

import asyncio
import itertools
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from temporalio.client import Client

from bench import _profile
from bench._engine import BareWorkflow
from bench._engine_work import Work, done_file, started_file
from bench._engine_worker import BARE_QUEUE
from bench._http import LoadClient
from bench._measure import DRAIN_TIMEOUT, Phase, closed, concurrently, flag_busy_machine, percentile, until
from bench._stack import Headers, Stack, executor_processes, running_stack, tenant, worker_processes
from domain.platform.contracts import JOB_WORKFLOW, TASK_QUEUE, job_workflow_id

THROUGHPUT_TARGET = 0.6
LATENCY_TARGET = 2.0
RSS_GROWTH_TARGET_MB = 64
EXECUTORS = 2
SLOTS = 4
# Three local activities and the run activity (the module's docstring).
PLATFORM_ACTIVITIES = 4
BARE_WORKFLOW = "BenchBareRouting"
# Concurrent callers creating jobs (and starting bare workflows). Not routing's 32: the API's
# POST /api/platform/jobs holds two pooled connections at once (its session's, then one for the
# insert), and 32 concurrent creates exhausted the pool of 20 and failed with 500s after its 10 s
# timeout (docs/benchmarks.md); 8 stay clear of it and still create jobs far faster than they run.
CLIENTS = 8
WARMUP = 16
LATENCY_SAMPLES = 100
WORKER_PROCESSES = os.cpu_count() or 1
WORKER_PY = Path(__file__).parent.parent / "worker.py"
ENDED = ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT")
LINE = 100  # bytes per line of the log job's output
RSS_SAMPLE_SECONDS = 0.01
POLL_SECONDS = 0.02


async def run(jobs: int, log_mb: int, profile: bool) -> None:
    async with (
        running_stack() as stack,
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        LoadClient(stack.api_url, CLIENTS) as load,
    ):
        member = await tenant(api, stack.admin, "bench")
        db = await psycopg.AsyncConnection.connect(stack.settings.database_url or "", autocommit=True)
        try:
            async with executor_processes(stack, api, EXECUTORS, SLOTS) as executors:
                await _measure(Platform(stack, api, load, member, db), jobs, log_mb, executors, profile)
        finally:
            await db.close()


@dataclass
class Platform:
    """The stack with a tenant's key, and what the bench asks of it."""

    stack: Stack
    api: httpx.AsyncClient
    load: LoadClient
    member: Headers
    db: psycopg.AsyncConnection[tuple[object, ...]]
    job_ids: dict[str, list[str]] = field(default_factory=dict)

    async def post(self, name: str, **spec: object) -> str:
        status, body = await self.load.post("/api/platform/jobs", {"name": name, **spec}, self.member)
        assert status == 201, body
        job_id: str = json.loads(body)["id"]
        self.job_ids.setdefault(name.split("-")[0], []).append(job_id)
        return job_id

    async def count(self, prefix: str) -> int:
        """Jobs named `prefix-...` that have ended; any end but SUCCEEDED stops the bench."""
        rows = await (
            await self.db.execute(
                "SELECT status, count(*) FROM platform_jobs WHERE name LIKE %s AND status = ANY(%s)"
                " GROUP BY status",
                (f"{prefix}-%", list(ENDED)),
            )
        ).fetchall()
        ended = dict(rows)
        if set(ended) - {"SUCCEEDED"}:
            raise RuntimeError(f"{prefix} jobs ended otherwise than SUCCEEDED: {ended}")
        return int(ended.get("SUCCEEDED", 0))  # type: ignore[call-overload]

    async def ended(self, job_id: str) -> None:
        """Waits for the job to succeed, polling often: the latency phase waits for each job."""
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while True:
                row = await (
                    await self.db.execute("SELECT status FROM platform_jobs WHERE id = %s", (job_id,))
                ).fetchone()
                if row and row[0] in ENDED:
                    assert row[0] == "SUCCEEDED", f"job {job_id}: {row[0]}"
                    return
                await asyncio.sleep(POLL_SECONDS)

    def workers(self) -> AbstractAsyncContextManager[list[int]]:
        argv = [sys.executable, str(WORKER_PY), "--queues", "platform"]
        return worker_processes(self.stack, TASK_QUEUE, argv, WORKER_PROCESSES)

    async def audit(self, job_id: str) -> list[tuple[str, datetime]]:
        rows = await (
            await self.db.execute("SELECT event, at FROM audit_log WHERE job_id = %s ORDER BY seq", (job_id,))
        ).fetchall()
        return [(str(event), at) for event, at in rows]  # type: ignore[misc]

    async def start_latencies(self, job_ids: Iterable[str]) -> list[tuple[float, float]]:
        """Seconds from created_at to JobScheduled and from JobScheduled to JobStarted, of each job."""
        rows = await (
            await self.db.execute(
                "SELECT extract(epoch FROM s.at - j.created_at), extract(epoch FROM a.at - s.at)"
                " FROM platform_jobs j"
                " JOIN audit_log s ON s.job_id = j.id AND s.event = 'JobScheduled'"
                " JOIN audit_log a ON a.job_id = j.id AND a.event = 'JobStarted'"
                " WHERE j.id = ANY(%s::uuid[])",
                (list(job_ids),),
            )
        ).fetchall()
        return [(float(r[0]), float(r[1])) for r in rows]  # type: ignore[arg-type]


def bare_workers(stack: Stack) -> AbstractAsyncContextManager[list[int]]:
    argv = [sys.executable, "-m", "bench._engine_worker", BARE_QUEUE]
    return worker_processes(stack, BARE_QUEUE, argv, WORKER_PROCESSES)


def bare_work(kind: str) -> Work:
    return Work(kind=kind, last_step=PLATFORM_ACTIVITIES, submitted=time.time())


async def _measure(
    platform: Platform, jobs: int, log_mb: int, executors: dict[int, str], profile: bool
) -> None:
    stack = platform.stack
    client = stack.temporal.client

    async def start_bare(kind: str) -> None:
        await client.start_workflow(
            BareWorkflow.run, bare_work(kind), id=f"bench-{kind}-{uuid.uuid4()}", task_queue=BARE_QUEUE
        )

    def bare_done(kind: str) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            path = done_file(stack.done_dir, kind)
            return path.stat().st_size if path.exists() else 0

        return count

    # Warm-up: the dev server, PostgreSQL, the API and both kinds of workers.
    warmup = min(WARMUP, jobs)
    async with bare_workers(stack), platform.workers():
        await concurrently(warmup, CLIENTS, lambda n: start_bare("warmup"))
        await concurrently(warmup, CLIENTS, lambda n: platform.post(f"warmup-{n}", command=["true"]))
        await until(bare_done("warmup"), warmup, "warm-up bare workflows")
        await until(lambda: platform.count("warmup"), warmup, "warm-up jobs")
        await closed(client, BARE_WORKFLOW, warmup)

        # Latency: one at a time, alternating.
        samples = min(jobs, LATENCY_SAMPLES)
        for n in range(samples):
            bare_id = f"bench-latency-{uuid.uuid4()}"
            await client.execute_workflow(
                BareWorkflow.run, bare_work("latency"), id=bare_id, task_queue=BARE_QUEUE
            )
            await platform.ended(await platform.post(f"latency-{n}", command=["true"]))
    bare_latency = [float(s) for s in started_file(stack.done_dir, "latency").read_text().split()]
    last_job = platform.job_ids["latency"][-1]
    await _print_timeline(client, "job", job_workflow_id(uuid.UUID(last_job)), await platform.audit(last_job))
    await _print_timeline(client, "bare workflow", bare_id)
    steps = await platform.start_latencies(platform.job_ids["latency"])
    scheduled, running = [a for a, _ in steps], [b for _, b in steps]
    job_latency = [a + b for a, b in steps]

    # Throughput: two rounds of half the jobs, bare first, then platform first.
    profile_dir = stack.root.parent / f"{stack.root.name}-profile"
    profiles: dict[str, list[Path]] = {}
    bare_drain, platform_drain = Phase(stack), Phase(stack)
    seconds = {"bare": 0.0, "platform": 0.0}
    done = {"bare": 0, "platform": 0}
    numbers = itertools.count()
    for order, count in ((("bare", "platform"), jobs // 2), (("platform", "bare"), jobs - jobs // 2)):
        for kind in order:
            done[kind] += count
            if kind == "bare":
                async with bare_workers(stack):
                    with bare_drain:
                        started = time.perf_counter()
                        await concurrently(count, CLIENTS, lambda n: start_bare("bare"))
                        await until(bare_done("bare"), done[kind], "bare workflows done")
                        seconds[kind] += time.perf_counter() - started
                    await closed(client, BARE_WORKFLOW, warmup + samples + done[kind])
            else:
                async with platform.workers() as pids, AsyncExitStack() as sampled:
                    if profile:
                        api = [pid for pid, role in stack.roles.items() if role == "api"]
                        for group, these in (("executor", list(executors)), ("worker", pids), ("api", api)):
                            files = await sampled.enter_async_context(_profile.sampling(these, profile_dir))
                            profiles.setdefault(group, []).extend(files)
                    with platform_drain:
                        started = time.perf_counter()
                        await concurrently(
                            count, CLIENTS, lambda n: platform.post(f"tput-{next(numbers)}", command=["true"])
                        )
                        await until(lambda: platform.count("tput"), done[kind], "platform jobs done")
                        seconds[kind] += time.perf_counter() - started
                    await closed(client, JOB_WORKFLOW, warmup + samples + done[kind])

    async with platform.workers():
        logs = await _log_job(platform, log_mb, executors)

    bare_rate, job_rate = jobs / seconds["bare"], jobs / seconds["platform"]
    bare_drain.report("bare: start and run")
    platform_drain.report("platform: create and run")
    for label, phase in (("bare", bare_drain), ("platform", platform_drain)):
        per_job = ", ".join(
            f"{role} {cpu / jobs * 1e3:.1f}" for role, cpu in phase.cpu.most_common() if role != "other"
        )
        print(f"{label} CPU ms per job: {per_job}")
    flag_busy_machine([bare_drain, platform_drain])
    for group, files in profiles.items():
        print(f"{group} processes:", end=" ")
        _profile.report_samples(files, platform_drain.cpu[group], jobs)
    if profiles:
        print(f"py-spy samples (collapsed stacks) in {profile_dir}")
    print(
        f"start latency p50 by step: created to JobScheduled {percentile(scheduled, 50) * 1e3:.1f} ms, "
        f"JobScheduled to JobStarted {percentile(running, 50) * 1e3:.1f} ms"
    )
    logs.report(log_mb)
    print(
        f"BENCH platform jobs_per_s {job_rate:.2f} bare {bare_rate:.2f} "
        f"ratio {job_rate / bare_rate:.2f} target >={THROUGHPUT_TARGET}"
    )
    for p in (50, 99):
        bare, job = percentile(bare_latency, p), percentile(job_latency, p)
        print(
            f"BENCH platform start_latency_p{p}_ratio {job / bare:.2f} target <={LATENCY_TARGET:g} "
            f"job_s {job:.3f} bare_s {bare:.3f} samples {len(job_latency)}"
        )
    print(
        f"BENCH platform log_mb_per_s {logs.mb_per_s(log_mb):.1f} "
        f"executor_rss_growth_mb {logs.executor_growth_mb:.1f} target <{RSS_GROWTH_TARGET_MB} "
        f"follow_lag_s {logs.follow_lag:.2f} follow_mb_per_s {logs.follow_mb_per_s:.1f}"
    )


async def _print_timeline(
    client: Client, what: str, workflow_id: str, audit: Iterable[tuple[str, datetime]] = ()
) -> None:
    """A workflow's history, each event's time after its start, with the job's audit rows
    (PostgreSQL's clock, the same host's): where the start latency goes."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    start = history.events[0].event_time.ToDatetime(UTC)
    print(f"the last latency {what}'s history (ms after its start; {len(history.events)} events):")
    events = [
        (e.event_time.ToDatetime(UTC), (e.WhichOneof("attributes") or "?").removesuffix("_event_attributes"))
        for e in history.events
    ]
    for at, kind in sorted([*events, *((at, f"audit: {event}") for event, at in audit)]):
        print(f"  {(at - start).total_seconds() * 1e3:7.1f}  {kind}")


class RssSampler:
    """Peak VmRSS of some processes, sampled in a thread of its own every RSS_SAMPLE_SECONDS (the
    event loop is busy reading the stream meanwhile)."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.before = {pid: _rss_kib(pid) for pid in pids}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_SECONDS):
            for pid in self.peak:
                self.peak[pid] = max(self.peak[pid], _rss_kib(pid))

    def growth_mib(self, pid: int) -> float:
        return (self.peak[pid] - self.before[pid]) / 1024

    @asynccontextmanager
    async def sampling(self) -> AsyncIterator[None]:
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            await asyncio.to_thread(self._thread.join)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Followed:
    bytes: int = 0
    first_at: float = 0.0  # epoch seconds of the stream's first bytes
    ended_at: float = 0.0  # and of its end


async def _follow(api: httpx.AsyncClient, path: str, headers: Headers) -> Followed:
    """The output bytes a follower of the SSE stream receives, counted as `clients/sse.py`
    would join them (a chunk's lines are its event's `data:` lines), without the per-line Python
    of a full parse: the bench shares the two cores with what it measures."""
    followed = Followed()
    pending = b""
    async with api.stream("GET", path, headers=headers, timeout=httpx.Timeout(60, read=None)) as response:
        assert response.status_code == 200, await response.aread()
        async for data in response.aiter_raw():
            followed.first_at = followed.first_at or time.time()
            pending += data
            *events, pending = pending.split(b"\n\n")
            for event in events:
                lines = [line for line in event.split(b"\n") if line.startswith(b"data: ")]
                if lines:
                    followed.bytes += sum(len(line) - 6 for line in lines) + len(lines) - 1
    followed.ended_at = time.time()
    return followed


@dataclass
class LogRun:
    stored: int
    chunks: int
    run_seconds: float  # JobStarted to the job's end
    followed: Followed
    finished_at: float
    executor_growth_mb: float
    api_growth_mb: float

    def mb_per_s(self, log_mb: int) -> float:
        return log_mb / self.run_seconds

    @property
    def follow_lag(self) -> float:
        return self.followed.ended_at - self.finished_at

    @property
    def follow_mb_per_s(self) -> float:
        return self.followed.bytes / 1e6 / (self.followed.ended_at - self.followed.first_at)

    def report(self, log_mb: int) -> None:
        size = log_mb * 1_000_000
        print(
            f"log job: {self.stored} bytes stored in {self.chunks} chunks (expected {size}), "
            f"{self.run_seconds:.1f} s from JobStarted to its end; followed {self.followed.bytes} "
            f"bytes, stream ended {self.follow_lag:.2f} s after the job; RSS growth (MiB): "
            f"executor {self.executor_growth_mb:.1f}, API {self.api_growth_mb:.1f}"
        )
        if self.stored != size or self.followed.bytes != size:
            print(f"WARNING: the log job's output was not all stored and followed ({size} bytes)")


async def _log_job(platform: Platform, log_mb: int, executors: dict[int, str]) -> LogRun:
    size = log_mb * 1_000_000
    api_pid = next(pid for pid, role in platform.stack.roles.items() if role == "api")
    rss = RssSampler([*executors, api_pid])
    script = f"yes \"$(printf '%0{LINE - 1}d' 0 | tr 0 x)\" | head -c {size}"
    async with rss.sampling():
        job_id = await platform.post("logs-0", script=script)
        path = f"/api/platform/jobs/{job_id}/logs?follow=true"
        followed = await _follow(platform.api, path, platform.member)
        await platform.ended(job_id)
    row = await (
        await platform.db.execute(
            "SELECT (SELECT coalesce(sum(octet_length(data)), 0) FROM platform_log_chunks c"
            "        WHERE c.job_id = j.id),"
            "       (SELECT count(*) FROM platform_log_chunks c WHERE c.job_id = j.id),"
            "       extract(epoch FROM j.finished_at - a.at), extract(epoch FROM j.finished_at),"
            "       j.worker_id::text"
            " FROM platform_jobs j JOIN audit_log a ON a.job_id = j.id AND a.event = 'JobStarted'"
            " WHERE j.id = %s",
            (job_id,),
        )
    ).fetchone()
    assert row is not None
    stored, chunks, run_seconds, finished_at, worker_id = row
    ran_on = next(pid for pid, worker in executors.items() if worker == worker_id)
    return LogRun(
        stored=int(stored),  # type: ignore[call-overload]
        chunks=int(chunks),  # type: ignore[call-overload]
        run_seconds=float(run_seconds),  # type: ignore[arg-type]
        followed=followed,
        finished_at=float(finished_at),  # type: ignore[arg-type]
        executor_growth_mb=rss.growth_mib(ran_on),
        api_growth_mb=rss.growth_mib(api_pid),
    )


def main(jobs: int = 500, log_mb: int = 100, profile: bool = False) -> None:
    asyncio.run(run(jobs, log_mb, profile))


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(*numbers[:2], profile="profile" in sys.argv[1:])  # type: ignore[arg-type]
