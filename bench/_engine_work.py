"""The payload and the no-op activity of the bare engine's workflows (bench/_engine.py)."""

from collections import Counter

from pydantic import BaseModel
from temporalio import activity

# One routed job (fan-out to one receiver) runs these, all sequential (workflows/service_job.py,
# workflows/routing.py): ServiceJob: save_job, load_candidates, create_routings; Routing:
# record(offered), record(accepted), provider_of, record(syncing), sync_customer, book,
# record(synced).
ACTIVITIES_PER_JOB = 10
# Jobs whose last activity has run, by kind of workflow: the bare engine's "synced".
DONE: Counter[str] = Counter()


class Work(BaseModel):
    kind: str
    step: int = 0
    pad: str = "x" * 256  # a few hundred bytes, as most routing activity payloads


@activity.defn(name="bench_routing_step")
async def step(work: Work) -> Work:
    if work.step == ACTIVITIES_PER_JOB:
        DONE[work.kind] += 1
    return work
