"""What every benchmark measures with: concurrent callers, waiting for a count, percentiles, and
phases with their wall time and CPU by part of the stack (bench/_stack.py)."""

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import psutil
from temporalio.client import Client

from bench._stack import Stack

DRAIN_TIMEOUT = 600.0
# Cores other processes may keep busy in a phase before the figures are flagged.
BUSY_ELSEWHERE = 0.1


async def concurrently(count: int, clients: int, call: Callable[[int], Awaitable[None]]) -> list[float]:
    """`count` calls shared by `clients` concurrent callers; each call's latency in seconds."""
    numbers = iter(range(count))
    samples: list[float] = []

    async def caller() -> None:
        for n in numbers:
            started = time.perf_counter()
            await call(n)
            samples.append(time.perf_counter() - started)

    await asyncio.gather(*(caller() for _ in range(clients)))
    return samples


async def until(count: Callable[[], Awaitable[int]], target: int, what: str) -> float:
    """Seconds until `count()` reaches `target`, polled every 0.2 s."""
    started = time.perf_counter()
    while (seen := await count()) < target:
        if time.perf_counter() - started > DRAIN_TIMEOUT:
            raise RuntimeError(f"{what}: {seen} of {target} after {DRAIN_TIMEOUT:.0f} s")
        await asyncio.sleep(0.2)
    return time.perf_counter() - started


async def closed(client: Client, workflow_type: str, count: int) -> None:
    """Waits (untimed) for workflows to close, so no stopping worker cuts a completion short."""
    query = f'WorkflowType="{workflow_type}" AND ExecutionStatus="Completed"'

    async def completed() -> int:
        return (await client.count_workflows(query)).count

    await until(completed, count, f"{workflow_type} closed")


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


class Phase:
    """Wall time and CPU seconds by part of the stack, summed over every `with` of it."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self.seconds = 0.0
        self.cpu: Counter[str] = Counter()

    def __enter__(self) -> None:
        self._started = time.perf_counter()
        self._measuring = self._stack.cpu()
        self._used = self._measuring.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._measuring.__exit__(*exc)
        self.seconds += time.perf_counter() - self._started
        self.cpu.update(self._used)

    @property
    def stack_cpu(self) -> float:
        return sum(cpu for role, cpu in self.cpu.items() if role != "other")

    def report(self, label: str) -> None:
        ours = {role: cpu for role, cpu in self.cpu.items() if role != "other"}
        parts = ", ".join(f"{role} {cpu:.1f}" for role, cpu in sorted(ours.items(), key=lambda kv: -kv[1]))
        print(
            f"{label}: {self.seconds:.1f} s; CPU s {parts}; the stack kept "
            f"{self.stack_cpu / self.seconds:.2f} cores busy, other processes "
            f"{self.cpu['other'] / self.seconds:.2f} (of {psutil.cpu_count()})"
        )


def flag_busy_machine(phases: list[Phase]) -> None:
    if any(p.cpu["other"] / p.seconds > BUSY_ELSEWHERE for p in phases):
        print(f"WARNING: other processes used over {BUSY_ELSEWHERE} cores in a phase: figures unreliable")
