"""Which waiting job goes to which worker: pure, so that it is tested without I/O.

One pass places as many waiting jobs as the workers' free capacity allows:
- between tenants, the one with the fewest jobs running (counting this pass's placements) goes
  next, so one tenant's 10,000 queued jobs never starve another's one job; ties go to the
  tenant served longest ago (with one slot and short jobs, nobody runs when the slot frees:
  without this the oldest backlog would win every time), then the higher priority head, then
  the earlier submission;
- within a tenant, higher priority first, equal priority in submission order;
- a job whose concurrency key is at its limit, or that no worker fits now, waits and does not
  hold up the jobs behind it (they may need other workers, or other keys);
- among the workers that fit (type, every capability, a free slot, free cpu and memory, not
  draining or offline), the job's strategy chooses.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from domain.platform.spec import Strategy


@dataclass(frozen=True)
class WorkerCapacity:
    id: UUID
    worker_type: str
    capabilities: frozenset[str]
    slots: int
    cpu_millis: int
    memory_mb: int
    running: int = 0
    cpu_used: int = 0
    memory_used: int = 0
    # Serves every tenant (registered with a platform admin's token) or only `tenant_id`'s jobs.
    shared: bool = True
    tenant_id: UUID | None = None
    # Round-robin order: the least recently given a job goes first (None: never).
    last_assigned: int | None = None

    def serves(self, job: "WaitingJob") -> bool:
        return (
            (self.shared or self.tenant_id == job.tenant_id)
            and self.worker_type == job.worker_type
            and job.capabilities <= self.capabilities
        )

    def fits(self, job: "WaitingJob") -> bool:
        return (
            self.serves(job)
            and self.running < self.slots
            and self.cpu_used + job.cpu_millis <= self.cpu_millis
            and self.memory_used + job.memory_mb <= self.memory_mb
        )

    def took(self, job: "WaitingJob", turn: int) -> "WorkerCapacity":
        return replace(
            self,
            running=self.running + 1,
            cpu_used=self.cpu_used + job.cpu_millis,
            memory_used=self.memory_used + job.memory_mb,
            last_assigned=turn,
        )


@dataclass(frozen=True)
class WaitingJob:
    id: UUID
    tenant_id: UUID
    priority: int
    submitted_at: datetime
    worker_type: str
    capabilities: frozenset[str] = frozenset()
    cpu_millis: int = 100
    memory_mb: int = 128
    strategy: Strategy = Strategy.LEAST_LOADED
    concurrency_key: str | None = None
    concurrency_limit: int | None = None

    @property
    def order(self) -> tuple[int, datetime, UUID]:
        """Within a tenant: higher priority first, then submission order."""
        return (-self.priority, self.submitted_at, self.id)


@dataclass(frozen=True)
class Placement:
    job_id: UUID
    worker_id: UUID


@dataclass
class Running:
    """What runs now, counted by tenant and by (tenant, concurrency key); and each tenant's
    last turn (the number of its latest placement, growing across passes; none: never served)."""

    by_tenant: dict[UUID, int] = field(default_factory=dict)
    by_key: dict[tuple[UUID, str], int] = field(default_factory=dict)
    served: dict[UUID, int] = field(default_factory=dict)


def choose_worker(job: WaitingJob, workers: Iterable[WorkerCapacity]) -> WorkerCapacity | None:
    fitting = [w for w in workers if w.fits(job)]
    if not fitting:
        return None
    match job.strategy:
        case Strategy.LEAST_LOADED:
            return min(fitting, key=lambda w: (w.running / w.slots, -(w.cpu_millis - w.cpu_used), w.id))
        case Strategy.BIN_PACKING:
            # The fullest worker the job still fits on: keeps others free for big jobs.
            return min(fitting, key=lambda w: (-(w.running / w.slots), w.cpu_millis - w.cpu_used, w.id))
        case Strategy.ROUND_ROBIN:
            return min(fitting, key=lambda w: (w.last_assigned is not None, w.last_assigned or 0, w.id))


def assign(
    waiting: Sequence[WaitingJob],
    workers: Sequence[WorkerCapacity],
    running: Running,
    first_turn: int = 0,
) -> list[Placement]:
    """The placements of one pass, in the order they were decided."""
    queues: dict[UUID, list[WaitingJob]] = {}
    for job in sorted(waiting, key=lambda j: j.order):
        queues.setdefault(job.tenant_id, []).append(job)
    load = dict(running.by_tenant)
    keys = dict(running.by_key)
    served = dict(running.served)
    free = {w.id: w for w in workers}
    placements: list[Placement] = []
    turn = first_turn
    while queues:
        tenant = min(
            queues,
            key=lambda t: (
                load.get(t, 0),
                served.get(t, 0),
                queues[t][0].order[0],
                queues[t][0].submitted_at,
                t,
            ),
        )
        queue = queues[tenant]
        placed = None
        while queue and placed is None:
            job = queue.pop(0)
            key = (tenant, job.concurrency_key) if job.concurrency_key is not None else None
            if key is not None and keys.get(key, 0) >= (job.concurrency_limit or 1):
                continue
            worker = choose_worker(job, free.values())
            if worker is None:
                continue
            turn += 1
            free[worker.id] = worker.took(job, turn)
            load[tenant] = load.get(tenant, 0) + 1
            served[tenant] = turn
            if key is not None:
                keys[key] = keys.get(key, 0) + 1
            placed = Placement(job_id=job.id, worker_id=worker.id)
        if placed is None:
            del queues[tenant]
        else:
            placements.append(placed)
            if not queue:
                del queues[tenant]
    return placements


def wait_reason(job: WaitingJob, workers: Sequence[WorkerCapacity], key_running: int = 0) -> str:
    """Why `job` waits, in words for the person who submitted it."""
    if job.concurrency_key is not None and key_running >= (job.concurrency_limit or 1):
        return (
            f"waiting for a turn under concurrency key {job.concurrency_key!r}: "
            f"{key_running} of at most {job.concurrency_limit} running"
        )
    of_type = [
        w for w in workers if w.worker_type == job.worker_type and (w.shared or w.tenant_id == job.tenant_id)
    ]
    if not of_type:
        return f"waiting for a worker of type {job.worker_type}: none registered"
    capable = [w for w in of_type if job.capabilities <= w.capabilities]
    if not capable:
        wanted = ", ".join(sorted(job.capabilities))
        return f"waiting for a worker of type {job.worker_type} with capabilities {wanted}: none registered"
    big = [w for w in capable if job.cpu_millis <= w.cpu_millis and job.memory_mb <= w.memory_mb]
    if not big:
        return (
            f"waiting for a worker of type {job.worker_type} with {job.cpu_millis} cpu millis and "
            f"{job.memory_mb} MB: none registered that large"
        )
    return f"waiting for a free worker of type {job.worker_type}: all {len(big)} busy"
