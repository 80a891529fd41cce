"""The payload and the no-op activity of the bare engine's workflows (bench/_engine.py)."""

import os
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity

# One routed job (fan-out to one receiver) runs these, all sequential (workflows/service_job.py,
# workflows/routing.py): ServiceJob: save_job_with_candidates, create_routings; Routing:
# record_changes(offered, accepted, syncing), sync_customer, book, record(synced).
ACTIVITIES_PER_JOB = 6
# Where worker processes count the jobs whose last activity has run (the bare engine's
# "synced"): one byte per job appended to a file per kind of workflow.
DONE_DIR = "TEMPOLINE_BENCH_DONE_DIR"


class Work(BaseModel):
    kind: str
    step: int = 0
    pad: str = "x" * 256  # a few hundred bytes, as most routing activity payloads


def done_file(directory: Path, kind: str) -> Path:
    return directory / f"{kind}.done"


@activity.defn(name="bench_routing_step")
async def step(work: Work) -> Work:
    if work.step == ACTIVITIES_PER_JOB:
        with done_file(Path(os.environ[DONE_DIR]), work.kind).open("ab") as done:
            done.write(b".")
    return work
