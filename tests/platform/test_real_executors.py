"""What a job's processes go through on real `tempoline executor` processes: every way a job is
stopped (API, CLI, `temporal workflow cancel`, its run timeout) kills its whole process group;
an executor killed with -9 leaves nothing running and its job completes on another executor;
an executor that froze and wakes after its job moved on is refused."""

import asyncio
import os
import signal
import sys
import uuid
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.platform.contracts import job_workflow_id
from tests.executor.procs import all_gone, members
from tests.platform.api_world import member
from tests.platform.harness import PATIENCE
from tests.platform.test_cli import World, platform
from tests.platform.test_end_to_end import ended, executor

TEMPORAL = str(Path(sys.executable).parent / "temporal")
# A shell that starts a background child and waits in a foreground one: two processes besides it.
TWO_SLEEPS = "sleep 600 & sleep 600"


async def _running(
    world: World, body: dict[str, object], processes: int = 2
) -> tuple[str, list[tuple[int, str]]]:
    """Submits the job and waits until it runs; its id and the (at least `processes`) processes
    of its group."""
    created = await world.api.post("/api/platform/jobs", json={"name": "j", **body}, headers=world.alice)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    async with asyncio.timeout(PATIENCE):
        while True:
            job = (await world.api.get(f"/api/platform/jobs/{job_id}", headers=world.alice)).json()
            if job["status"] == "RUNNING" and job["attempts"][-1]["pid"]:
                break
            await asyncio.sleep(0.1)
    # The executor starts the job as the leader of its own process group.
    return job_id, await members(job["attempts"][-1]["pid"], at_least=processes)


async def test_every_way_of_stopping_a_job_kills_its_whole_process_group(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    async with platform(settings, temporal, admin_headers, tmp_path) as world:
        job_id, group = await _running(world, {"script": TWO_SLEEPS})
        cancelled = await world.api.post(f"/api/platform/jobs/{job_id}/cancel", headers=world.alice)
        assert cancelled.status_code == 200, cancelled.text
        assert (await ended(world.api, job_id, world.alice))["status"] == "CANCELLED"
        await all_gone(group)

        job_id, group = await _running(world, {"script": TWO_SLEEPS})
        ran = await world.cli("job", "cancel", job_id)
        assert ran.code == 0, ran.stderr
        assert (await ended(world.api, job_id, world.alice))["status"] == "CANCELLED"
        await all_gone(group)

        job_id, group = await _running(world, {"script": TWO_SLEEPS})
        temporal_cancel = await asyncio.create_subprocess_exec(
            TEMPORAL,
            "workflow",
            "cancel",
            "--address",
            settings.temporal_address,
            "--namespace",
            settings.temporal_namespace,
            "-w",
            job_workflow_id(uuid.UUID(job_id)),
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert await temporal_cancel.wait() == 0
        job = await ended(world.api, job_id, world.alice)
        assert job["status"] == "CANCELLED" and job["timeline"][-1]["event"] == "JobCancelled"
        await all_gone(group)

        job_id, group = await _running(world, {"script": TWO_SLEEPS, "run_timeout_seconds": 2})
        job = await ended(world.api, job_id, world.alice)
        assert job["status"] == "TIMED_OUT" and len(job["attempts"]) == 1
        await all_gone(group)


async def test_a_job_outlives_its_executors_death_and_a_frozen_executors_late_result_is_refused(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    # Attempts of a silent executor are given up after 3 s instead of production's 15 s.
    quick = settings.model_copy(update={"platform_executor_heartbeat_timeout_seconds": 3})
    async with (
        platform(quick, temporal, admin_headers, tmp_path, with_executor=False) as world,
        AsyncExitStack() as stack,
    ):
        start = Executors(world, admin_headers, quick, tmp_path, stack)
        first = await start.one()
        retried = {"max_attempts": 3, "backoff": {"initial_seconds": 0.5}}
        job_id, group = await _running(world, {"script": "sleep 600 & sleep 4; echo done", **retried})
        # kill -9: its job's processes die with it; a second executor runs attempt 2.
        os.kill(first.pid, signal.SIGKILL)
        await all_gone(group)
        second = await start.one()
        job = await ended(world.api, job_id, world.alice)
        assert job["status"] == "SUCCEEDED", job
        lost, done = job["attempts"]
        assert lost["outcome"] == "worker_lost" and lost["worker_id"] != done["worker_id"]
        assert (done["attempt"], done["exit_code"]) == (2, 0)

        # Frozen (SIGSTOP) while its job runs: attempt 2 moves to a live executor; woken after
        # the job ended there, the frozen one's result and output are refused, its process killed.
        third = await start.one()
        job_id, group = await _running(world, {"script": "sleep 600 & sleep 3; echo late", **retried})
        frozen = next(p for p in (second, third) if _descends(group[0][0], p.pid))
        frozen.send_signal(signal.SIGSTOP)
        try:
            job = await ended(world.api, job_id, world.alice)
        finally:
            frozen.send_signal(signal.SIGCONT)
        assert job["status"] == "SUCCEEDED" and [a["attempt"] for a in job["attempts"]] == [1, 2]
        await all_gone(group, seconds=PATIENCE)
        logs = (await world.api.get(f"/api/platform/jobs/{job_id}/logs", headers=world.alice)).json()
        assert [c["attempt"] for c in logs["items"]] == [2]
        after = (await world.api.get(f"/api/platform/jobs/{job_id}", headers=world.alice)).json()
        assert after["attempts"] == job["attempts"] and after["status"] == "SUCCEEDED"


async def test_priority_fairness_and_concurrency_keys_hold_on_real_executors(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    async with (
        platform(settings, temporal, admin_headers, tmp_path, with_executor=False) as world,
        AsyncExitStack() as stack,
    ):
        start = Executors(world, admin_headers, settings, tmp_path, stack)
        await start.one(slots=1)
        api, alice = world.api, world.alice

        async def submit(headers: dict[str, str], **body: object) -> str:
            created = await api.post("/api/platform/jobs", json={"name": "j", **body}, headers=headers)
            assert created.status_code == 201, created.text
            return created.json()["id"]

        # Priority under one slot: the highest first, whatever the order they came in.
        blocker, _ = await _running(world, {"command": ["sleep", "1"]}, processes=1)
        by_priority = {await submit(alice, command=["true"], priority=p): p for p in (1, 9, 5, 7)}
        jobs = [await ended(api, job_id, alice) for job_id in [blocker, *by_priority]]
        order = sorted(jobs[1:], key=lambda job: _at(job["attempts"][0]["started_at"]))
        assert [by_priority[job["id"]] for job in order] == [9, 7, 5, 1]

        # Fairness: another tenant's 200 queued jobs do not hold back alice's one.
        bob = await member(api, admin_headers, "bob")
        backlog = [await submit(bob, command=["true"]) for _ in range(200)]
        lone = await submit(alice, command=["true"])
        submitted = _at((await api.get(f"/api/platform/jobs/{lone}", headers=alice)).json()["created_at"])
        started = _at((await ended(api, lone, alice))["attempts"][0]["started_at"])
        backlog_starts = [
            _at(attempt["started_at"])
            for job_id in backlog
            for attempt in (await api.get(f"/api/platform/jobs/{job_id}", headers=bob)).json()["attempts"]
            if attempt["started_at"]
        ]
        ahead = sum(submitted < at < started for at in backlog_starts)
        assert ahead <= 2, f"{ahead} of the backlog started between the lone job's submission and start"
        for job_id in backlog:
            await api.post(f"/api/platform/jobs/{job_id}/cancel", headers=bob)

        # A concurrency key: at most its limit at once, however many slots are free.
        await start.one(worker_type="wide", slots=4)
        keyed = {"worker_type": "wide", "concurrency": {"key": "customer-1", "limit": 2}}
        ids = [await submit(alice, command=["sleep", "0.5"], **keyed) for _ in range(6)]
        spans = [
            (_at(a["started_at"]), _at(a["ended_at"]))
            for j in ids
            for a in (await ended(api, j, alice))["attempts"]
        ]
        most = max(sum(begin <= at < end for begin, end in spans) for at, _ in spans)
        assert most == 2


class Executors:
    """Starts executors, each registered with a token of its own (stopped with `stack`)."""

    def __init__(
        self, world: World, admin: dict[str, str], settings: Settings, cwd: Path, stack: AsyncExitStack
    ) -> None:
        self.world, self.admin, self.settings, self.cwd, self.stack = world, admin, settings, cwd, stack

    async def one(self, worker_type: str = "default", slots: int = 2) -> asyncio.subprocess.Process:
        api = self.world.api
        token = await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=self.admin)
        assert token.status_code == 201, token.text
        before = await self._registered()
        process = await self.stack.enter_async_context(
            executor(self.settings, self.world.url, token.json()["token"], self.cwd, worker_type, slots)
        )
        async with asyncio.timeout(PATIENCE):
            while await self._registered() == before:  # noqa: ASYNC110 (polls the API)
                await asyncio.sleep(0.1)
        return process

    async def _registered(self) -> int:
        return len((await self.world.api.get("/api/platform/workers", headers=self.admin)).json()["items"])


def _descends(pid: int, ancestor: int) -> bool:
    """Whether process `pid` descends from `ancestor` (read from /proc)."""
    while pid > 1:
        if pid == ancestor:
            return True
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return False


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)
