"""Interviews processed concurrently against OpenAI's emulator at a fixed latency, vs a bare
three-activity workflow in the same run (issue #15's benchmark).

An interview: the committed speech fixture (tests/interviews/fixtures/speech.wav, 7.8 s) uploaded
through the API, which starts its workflow; transcribed by the `openai` provider and analyzed by
OpenAI, both emulated with every call held LATENCY seconds (the emulators' `/_control/latency`).
Its end-to-end time runs from the upload's answer to the workflow's result (status `analyzed`),
on the benchmark's clock. Time inside provider calls is the emulator's: the durations its call
log records (request received to answer sent: the fixed latency plus the emulator's own work),
summed over the round and divided by the interviews; every interview makes exactly one call of
each kind, all answered 200, or the run stops. Measured there rather than in the activities,
whose clocks would also count the worker's waits for its threads and event loop: those are the
pipeline's, not the provider's. Overhead = end-to-end minus provider time, averaged.

The baseline: BareWorkflow (bench/_engine.py) with three no-op activities in a row, started
concurrently, timed from `start_workflow`'s answer (the point the upload's answer marks for an
interview) to its result. No-op rather than sleeping: its latency is then the engine's cost of
three activities alone, which is what the interview's overhead is compared with; sleeping
activities would add the same constant to the baseline and flatter the ratio as LATENCY grows.

Each kind has its own worker processes (one per core, `worker.py --queues interviews` and
`python -m bench._engine_worker`), all started before a warm-up round of each; then rounds of
`count` in the order bare, interviews, interviews, bare so a drift in the machine's load costs
both alike. The run prints where the time of each went (the mean gap between consecutive
history events, bench/_history.py), the CPU each process used per round, and a warning when
other processes were busy.

`python -m bench.interviews [count] [profile]` (50); prints `BENCH interviews ...` last. `profile`
samples each kind's worker processes with py-spy (bench/_profile.py) and says what their Python
ran, per workflow.
"""

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, AsyncExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client, WorkflowHistory

from bench import _history, _profile
from bench._engine import BareWorkflow
from bench._engine_work import Work
from bench._engine_worker import BARE_QUEUE
from bench._measure import Phase, flag_busy_machine, percentile
from bench._stack import Headers, Stack, running_stack, tenant, worker_processes
from bench.upload import interview
from domain.interviews.pipeline import TASK_QUEUE, InterviewStatus, Progress, workflow_id

LATENCY = 0.2
TARGET = 3.0
BARE_STEPS = 3
WARMUP = 4
WORKER_PROCESSES = os.cpu_count() or 1
WORKER_PY = Path(__file__).parent.parent / "worker.py"
FIXTURE = Path(__file__).parent.parent / "tests" / "interviews" / "fixtures" / "speech.wav"
TRANSCRIPTIONS = "/v1/audio/transcriptions"
CHATS = "/v1/chat/completions"
# Gaps between history events shown per kind, longest first (the rest are a millisecond or less).
SHOWN_GAPS = 12


@dataclass
class Kind:
    """One kind's rounds: each workflow's id and latency (s), its history (read after its round,
    outside the timed phase), and (interviews) the provider's seconds per round."""

    name: str
    phase: Phase
    latencies: list[float] = field(default_factory=list)
    histories: list[WorkflowHistory] = field(default_factory=list)
    provider_seconds: list[float] = field(default_factory=list)
    # Seconds from the workflow's start to the client's clock starting, and from its close to
    # the result reaching the client (server clock against ours: the same host).
    before_clock: list[float] = field(default_factory=list)
    after_close: list[float] = field(default_factory=list)
    # This round's workflows: id, when the clock started, when the result came (epoch s).
    _round: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies)

    async def read_histories(self, client: Client) -> None:
        for workflow, answered, done in self._round:
            history = await client.get_workflow_handle(workflow).fetch_history()
            self.histories.append(history)
            started, closed = _history.span(history)
            self.before_clock.append(answered - started)
            self.after_close.append(done - closed)
        self._round.clear()


async def timed(
    client: Client, start: Callable[[], Awaitable[str]], result_type: type | None, kind: Kind | None
) -> object:
    """Awaits `start()` (it answers the workflow id once the workflow has started), then the
    workflow's result; records the latency between the two into `kind`."""
    workflow = await start()
    answered = time.time()
    result = await client.get_workflow_handle(workflow, result_type=result_type).result()
    done = time.time()
    if kind is not None:
        kind.latencies.append(done - answered)
        kind._round.append((workflow, answered, done))
    return result


def measuring(kind: Kind | None) -> AbstractContextManager[None]:
    """The kind's timed phase (a warm-up round has none)."""
    return kind.phase if kind is not None else nullcontext()


async def bare_round(stack: Stack, count: int, kind: Kind | None) -> None:
    client = stack.temporal.client

    async def start() -> str:
        work = Work(kind="interviews-bare", last_step=BARE_STEPS)
        handle = await client.start_workflow(
            BareWorkflow.run, work, id=f"bench-bare-{uuid.uuid4()}", task_queue=BARE_QUEUE
        )
        return handle.id

    with measuring(kind):
        await asyncio.gather(*(timed(client, start, None, kind) for _ in range(count)))
    if kind is not None:
        await kind.read_histories(client)


async def last_call(api: httpx.AsyncClient, stack: Stack) -> int:
    """The emulator's last recorded call's sequence number (0: none yet)."""
    listed = await api.get(f"{stack.emulator_url}/_control/calls", params={"limit": 1})
    calls = listed.json()["calls"]
    return calls[-1]["seq"] if calls else 0


async def interview_round(
    stack: Stack, api: httpx.AsyncClient, headers: Headers, count: int, kind: Kind | None
) -> None:
    # Made beforehand, untimed: a candidate and an interview each.
    interviews = [await interview(api, headers) for _ in range(count)]
    audio = FIXTURE.read_bytes()
    since = await last_call(api, stack)

    async def processed(interview_id: str) -> None:
        async def upload() -> str:
            uploaded = await api.post(
                f"/api/interviews/{interview_id}/recordings",
                content=audio,
                headers={**headers, "Content-Type": "audio/wav"},
            )
            assert uploaded.status_code == 201, uploaded.text
            return workflow_id(uuid.UUID(interview_id))

        progress = await timed(stack.temporal.client, upload, Progress, kind)
        assert isinstance(progress, Progress) and progress.status == InterviewStatus.ANALYZED, progress

    with measuring(kind):
        await asyncio.gather(*(processed(i) for i in interviews))
    listed = await api.get(
        f"{stack.emulator_url}/_control/calls", params={"provider": "openai", "since": since}
    )
    calls = listed.json()["calls"]
    paths = [call["path"] for call in calls]
    assert paths.count(TRANSCRIPTIONS) == count and paths.count(CHATS) == count, paths
    assert all(call["status"] == 200 for call in calls), [c["status"] for c in calls]
    if kind is not None:
        kind.provider_seconds.append(sum(call["duration"] for call in calls))
        await kind.read_histories(stack.temporal.client)


async def run(count: int, profile: bool) -> None:
    environment = {"INTERVIEWS_TRANSCRIPTION_PROVIDERS": json.dumps(["openai"])}
    async with (
        running_stack(providers="openai", environment=environment) as stack,
        httpx.AsyncClient(base_url=stack.api_url, timeout=300) as api,
    ):
        latency = {"provider": "openai", "seconds": LATENCY}
        (await api.put(f"{stack.emulator_url}/_control/latency", json=latency)).raise_for_status()
        headers = await tenant(api, stack.admin, "bench")
        python = sys.executable
        interviews = Kind("interviews", Phase(stack))
        bare = Kind("bare", Phase(stack))
        profile_dir = stack.root.parent / f"{stack.root.name}-profile"
        samples: dict[str, list[Path]] = {}
        async with (
            worker_processes(
                stack, TASK_QUEUE, [python, str(WORKER_PY), "--queues", "interviews"], WORKER_PROCESSES
            ) as interview_pids,
            worker_processes(
                stack, BARE_QUEUE, [python, "-m", "bench._engine_worker", BARE_QUEUE], WORKER_PROCESSES
            ) as bare_pids,
            AsyncExitStack() as sampled,
        ):
            await bare_round(stack, WARMUP, None)
            await interview_round(stack, api, headers, WARMUP, None)
            if profile:  # each kind's workers, through every round (idle in the other kind's)
                for kind, pids in ((interviews, interview_pids), (bare, bare_pids)):
                    sampling = _profile.sampling(pids, profile_dir)
                    samples[kind.name] = await sampled.enter_async_context(sampling)
            for which in ("bare", "interviews", "interviews", "bare"):
                if which == "bare":
                    await bare_round(stack, count, bare)
                else:
                    await interview_round(stack, api, headers, count, interviews)
    for kind in (interviews, bare):
        if kind.name in samples:
            print(f"{kind.name} workers:", end=" ")
            _profile.report_samples(samples[kind.name], kind.phase.cpu["worker"], len(kind.latencies))
    if samples:
        print(f"py-spy samples (collapsed stacks) in {profile_dir}")
    report(count, interviews, bare)


def report(count: int, interviews: Kind, bare: Kind) -> None:
    rounds = len(interviews.provider_seconds)
    provider = sum(interviews.provider_seconds) / (count * rounds)
    overhead = interviews.mean - provider
    ratio = overhead / bare.mean
    interviews.phase.report(f"interviews, {rounds} rounds of {count}")
    bare.phase.report(f"bare, {rounds} rounds of {count}")
    for kind in (interviews, bare):
        cpu = kind.phase.cpu
        each = ", ".join(
            f"{role} {seconds / len(kind.latencies) * 1e3:.1f}"
            for role, seconds in cpu.most_common()
            if role != "other"
        )
        print(f"{kind.name}: CPU ms per workflow: {each}")
    flag_busy_machine([interviews.phase, bare.phase])
    for kind in (interviews, bare):
        gaps = _history.mean_gaps(kind.histories)
        events = statistics.fmean(len(history.events) for history in kind.histories)
        print(f"{kind.name}: {events:.1f} history events per workflow; mean ms between consecutive ones:")
        for step in sorted(gaps, key=lambda s: -gaps[s])[:SHOWN_GAPS]:
            print(f"  {gaps[step] * 1000:8.1f}  {step}")
        before, after = statistics.fmean(kind.before_clock), statistics.fmean(kind.after_close)
        p50, p95 = percentile(kind.latencies, 50), percentile(kind.latencies, 95)
        print(
            f"{kind.name}: workflow start to clock start {before * 1000:.1f} ms, close to result "
            f"{after * 1000:.1f} ms (means); latency p50 {p50:.3f} s, p95 {p95:.3f} s"
        )
    print(f"BENCH interviews count {count}")
    print(f"BENCH interviews latency_s {LATENCY}")
    print(f"BENCH interviews e2e_s {interviews.mean:.3f}")
    print(f"BENCH interviews provider_s {provider:.3f}")
    print(f"BENCH interviews overhead_s {overhead:.3f}")
    print(f"BENCH interviews bare_s {bare.mean:.3f}")
    print(f"BENCH interviews overhead_ratio {ratio:.2f} target <={TARGET:g}")


def main(count: int = 50, profile: bool = False) -> None:
    asyncio.run(run(count, profile))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2] if a.isdigit()), profile="profile" in sys.argv[1:])
