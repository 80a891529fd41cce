"""The payload and the no-op activity of the bare engine's workflows (bench/_engine.py)."""

import os
import time
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity

# The bare engine's job: the ten steps of a routed job (fan-out to one receiver), each as its own
# activity, as the routing workflows ran them until #17: save the job, load candidates, create
# the routing, record offered, record accepted, read the provider, record syncing, sync the
# customer, book, record synced. Routing now takes those steps in six calls (save with
# candidates; create; offered, accepted and syncing in one; customer; book; synced); the
# baseline keeps the ten so that ratios before and after compare the same work.
ACTIVITIES_PER_JOB = 10
# Where worker processes count the jobs whose last activity has run (the bare engine's
# "synced"): one byte per job appended to a file per kind of workflow.
DONE_DIR = "TEMPOLINE_BENCH_DONE_DIR"


class Work(BaseModel):
    kind: str
    step: int = 0
    last_step: int = ACTIVITIES_PER_JOB  # the step that counts the job as done
    pad: str = "x" * 256  # a few hundred bytes, as most routing activity payloads
    # Epoch seconds when the client started the workflow: the first step records how long it
    # took to start (one line of seconds per job in `started_file`).
    submitted: float | None = None


def done_file(directory: Path, kind: str) -> Path:
    return directory / f"{kind}.done"


def started_file(directory: Path, kind: str) -> Path:
    return directory / f"{kind}.started"


@activity.defn(name="bench_routing_step")
async def step(work: Work) -> Work:
    if work.step == 1 and work.submitted is not None:
        with started_file(Path(os.environ[DONE_DIR]), work.kind).open("a") as started:
            started.write(f"{time.time() - work.submitted}\n")
    if work.step == work.last_step:
        with done_file(Path(os.environ[DONE_DIR]), work.kind).open("ab") as done:
            done.write(b".")
    return work
