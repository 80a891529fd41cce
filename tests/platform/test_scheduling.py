"""The scheduler's pure rules: which worker a job goes to, and which waiting jobs go first."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.platform.scheduling import (
    Placement,
    Running,
    WaitingJob,
    WorkerCapacity,
    assign,
    choose_worker,
    wait_reason,
)
from domain.platform.spec import Strategy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
A, B = UUID(int=0xA), UUID(int=0xB)


def worker(n: int, **fields: object) -> WorkerCapacity:
    base: dict[str, object] = {
        "id": UUID(int=1000 + n),
        "worker_type": "default",
        "capabilities": frozenset(),
        "slots": 4,
        "cpu_millis": 4000,
        "memory_mb": 8192,
    }
    return WorkerCapacity(**{**base, **fields})  # type: ignore[arg-type]


def job(n: int, tenant: UUID = A, **fields: object) -> WaitingJob:
    base: dict[str, object] = {
        "id": UUID(int=n),
        "tenant_id": tenant,
        "priority": 5,
        "submitted_at": T0 + timedelta(seconds=n),
        "worker_type": "default",
    }
    return WaitingJob(**{**base, **fields})  # type: ignore[arg-type]


def placed(placements: list[Placement]) -> list[int]:
    return [p.job_id.int for p in placements]


def test_a_job_needs_its_type_every_capability_and_room() -> None:
    gpu = job(1, worker_type="gpu", capabilities=frozenset({"cuda", "fp16"}))
    assert choose_worker(gpu, [worker(1, worker_type="gpu", capabilities=frozenset({"cuda"}))]) is None
    assert choose_worker(gpu, [worker(1, capabilities=frozenset({"cuda", "fp16"}))]) is None
    fits = worker(2, worker_type="gpu", capabilities=frozenset({"cuda", "fp16", "x"}))
    assert choose_worker(gpu, [fits]) == fits
    assert choose_worker(job(2), [worker(1, running=4)]) is None
    assert choose_worker(job(2, cpu_millis=500), [worker(1, cpu_used=3600)]) is None
    assert choose_worker(job(2, memory_mb=500), [worker(1, memory_used=8000)]) is None


def test_a_tenants_own_worker_serves_only_that_tenant() -> None:
    private = worker(1, shared=False, tenant_id=B)
    assert choose_worker(job(1, tenant=A), [private]) is None
    assert choose_worker(job(1, tenant=B), [private]) == private


def test_strategies() -> None:
    idle, half, full = worker(1), worker(2, running=2, cpu_used=200), worker(3, running=3, cpu_used=300)
    workers = [half, idle, full]
    assert choose_worker(job(1), workers) == idle
    assert choose_worker(job(1, strategy=Strategy.BIN_PACKING), workers) == full
    rr = [worker(1, last_assigned=5), worker(2, last_assigned=3), worker(3, last_assigned=9)]
    assert choose_worker(job(1, strategy=Strategy.ROUND_ROBIN), rr) == rr[1]
    assert choose_worker(job(1, strategy=Strategy.ROUND_ROBIN), [*rr, worker(4)]).id == worker(4).id  # type: ignore[union-attr]


def test_round_robin_takes_turns_within_a_pass() -> None:
    jobs = [job(n, strategy=Strategy.ROUND_ROBIN) for n in range(1, 7)]
    placements = assign(jobs, [worker(1), worker(2), worker(3)], Running())
    assert [p.worker_id.int - 1000 for p in placements] == [1, 2, 3, 1, 2, 3]


def test_priority_first_then_submission_order_under_one_slot() -> None:
    jobs = [job(1, priority=1), job(2, priority=9), job(3, priority=5), job(4, priority=9)]
    assert placed(assign(jobs, [worker(1, slots=1)], Running())) == [2]
    assert placed(assign(jobs, [worker(1, slots=3)], Running())) == [2, 4, 3]


def test_one_tenants_backlog_does_not_starve_another() -> None:
    backlog = [job(n, tenant=A, priority=9) for n in range(1, 10_001)]
    lone = job(20_000, tenant=B, priority=0)
    # A already runs 3 jobs; one slot frees: B's job goes, though A's are older and higher.
    placements = assign([*backlog, lone], [worker(1, slots=4, running=3)], Running(by_tenant={A: 3}))
    assert placed(placements) == [20_000]


def test_with_one_slot_and_short_jobs_the_tenant_served_longest_ago_goes_next() -> None:
    # One slot, nothing running when it frees (A's last job just ended): A was served at turn 7,
    # B never; B's job goes, though A's are older and higher. Then A's, then B's again.
    backlog = [job(n, tenant=A, priority=9) for n in range(1, 200)]
    lone = job(1_000, tenant=B, priority=0)
    one_slot = [worker(1, slots=1)]
    assert placed(assign([*backlog, lone], one_slot, Running(served={A: 7}))) == [1_000]
    assert placed(assign([*backlog, lone], one_slot, Running(served={A: 7, B: 8}))) == [1]


def test_concurrency_key_holds_and_others_pass_the_blocked_job() -> None:
    keyed = [job(n, concurrency_key="acme", concurrency_limit=2) for n in range(1, 5)]
    free = job(9)
    placements = assign([*keyed, free], [worker(1, slots=10)], Running(by_key={(A, "acme"): 1}))
    assert placed(placements) == [1, 9]


def test_a_job_no_worker_fits_does_not_block_the_jobs_behind_it() -> None:
    gpu = job(1, priority=9, worker_type="gpu")
    assert placed(assign([gpu, job(2)], [worker(1)], Running())) == [2]


def test_wait_reasons() -> None:
    gpu = job(1, worker_type="gpu")
    assert wait_reason(gpu, [worker(1)]) == "waiting for a worker of type gpu: none registered"
    cuda = job(1, worker_type="gpu", capabilities=frozenset({"cuda"}))
    assert "with capabilities cuda: none registered" in wait_reason(cuda, [worker(1, worker_type="gpu")])
    assert "all 1 busy" in wait_reason(job(1), [worker(1, running=4)])
    assert "that large" in wait_reason(job(1, cpu_millis=9000), [worker(1)])
    keyed = job(1, concurrency_key="k", concurrency_limit=1)
    assert "concurrency key 'k': 1 of at most 1" in wait_reason(keyed, [worker(1)], key_running=1)


# -- properties ---------------------------------------------------------------------------------

TYPES = st.sampled_from(["default", "gpu"])
CAPS = st.frozensets(st.sampled_from(["a", "b", "c"]), max_size=2)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[WaitingJob], list[WorkerCapacity], Running]:
    workers = [
        worker(
            n,
            worker_type=draw(TYPES),
            capabilities=draw(st.frozensets(st.sampled_from(["a", "b", "c"]))),
            slots=draw(st.integers(1, 4)),
            cpu_millis=draw(st.integers(100, 2000)),
            memory_mb=draw(st.integers(128, 2048)),
        )
        for n in range(draw(st.integers(0, 4)))
    ]
    tenants = [UUID(int=t) for t in range(1, draw(st.integers(1, 3)) + 1)]
    jobs = [
        job(
            n,
            tenant=draw(st.sampled_from(tenants)),
            priority=draw(st.integers(0, 9)),
            worker_type=draw(TYPES),
            capabilities=draw(CAPS),
            cpu_millis=draw(st.integers(50, 1000)),
            memory_mb=draw(st.integers(64, 1024)),
            strategy=draw(st.sampled_from(list(Strategy))),
            **draw(
                st.one_of(
                    st.just({}),
                    st.fixed_dictionaries(
                        {
                            "concurrency_key": st.sampled_from(["k1", "k2"]),
                            "concurrency_limit": st.integers(1, 3),
                        }
                    ),
                )
            ),
        )
        for n in range(1, draw(st.integers(0, 25)) + 1)
    ]
    return jobs, workers, Running()


def _after(
    jobs: list[WaitingJob], workers: list[WorkerCapacity], placements: list[Placement]
) -> dict[UUID, WorkerCapacity]:
    by_id = {j.id: j for j in jobs}
    state = {w.id: w for w in workers}
    for turn, p in enumerate(placements):
        j, w = by_id[p.job_id], state[p.worker_id]
        assert w.fits(j), "a placement must fit the worker as it was then"
        state[w.id] = w.took(j, turn)
    return state


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_placements_fit_capacity_and_keys(
    world: tuple[list[WaitingJob], list[WorkerCapacity], Running],
) -> None:
    jobs, workers, running = world
    placements = assign(jobs, workers, running)
    assert len({p.job_id for p in placements}) == len(placements)
    state = _after(jobs, workers, placements)
    for w in state.values():
        assert w.running <= w.slots and w.cpu_used <= w.cpu_millis and w.memory_used <= w.memory_mb
    by_id = {j.id: j for j in jobs}
    per_key: dict[tuple[UUID, str], int] = {}
    for p in placements:
        j = by_id[p.job_id]
        if j.concurrency_key:
            k = (j.tenant_id, j.concurrency_key)
            per_key[k] = per_key.get(k, 0) + 1
            assert per_key[k] <= (j.concurrency_limit or 1)


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_nothing_left_waiting_could_have_run(
    world: tuple[list[WaitingJob], list[WorkerCapacity], Running],
) -> None:
    """Work-conserving: after a pass, every job still waiting fits no worker or its key is full."""
    jobs, workers, running = world
    placements = assign(jobs, workers, running)
    state = _after(jobs, workers, placements)
    done = {p.job_id for p in placements}
    keys: dict[tuple[UUID, str], int] = {}
    by_id = {j.id: j for j in jobs}
    for p in placements:
        j = by_id[p.job_id]
        if j.concurrency_key:
            keys[(j.tenant_id, j.concurrency_key)] = keys.get((j.tenant_id, j.concurrency_key), 0) + 1
    for j in jobs:
        if j.id in done:
            continue
        full = j.concurrency_key is not None and keys.get((j.tenant_id, j.concurrency_key), 0) >= (
            j.concurrency_limit or 1
        )
        assert full or choose_worker(j, state.values()) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 30))
def test_equal_tenants_share_equally(a_jobs: int, b_jobs: int, slots: int) -> None:
    jobs = [job(n, tenant=A) for n in range(1, a_jobs + 1)] + [job(100 + n, tenant=B) for n in range(b_jobs)]
    placements = assign(jobs, [worker(1, slots=slots, cpu_millis=10**6, memory_mb=10**6)], Running())
    a = sum(1 for p in placements if p.job_id.int < 100)
    b = len(placements) - a
    assert len(placements) == min(slots, a_jobs + b_jobs)
    # Each gets half, unless it has fewer jobs than that (the other then takes the rest).
    assert abs(a - b) <= 1 or a == a_jobs or b == b_jobs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=30), st.integers(1, 10))
def test_one_tenant_runs_its_highest_priorities_oldest_first(priorities: list[int], slots: int) -> None:
    jobs = [job(n, priority=p) for n, p in enumerate(priorities, start=1)]
    placements = assign(jobs, [worker(1, slots=slots, cpu_millis=10**6, memory_mb=10**6)], Running())
    expected = sorted(jobs, key=lambda j: j.order)[:slots]
    assert placed(placements) == [j.id.int for j in expected]
