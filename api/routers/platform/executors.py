"""The executors' endpoints (platform-contract.md): register with a bootstrap token, heartbeat,
deregister, fetch an attempt's spec, report its process started, ship its output. A worker's key
opens only these, and only for itself; every call about an attempt is fenced: the attempt must
be the job's current one, on this worker, not ended."""

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import bindparam, select, text, update

from api.deps import BearerKey, Session, invalid_key
from api.keys import ADMIN_TENANT, digest, generate
from api.problems import ERROR_RESPONSES, ProblemError
from api.routers.platform.common import schedule
from api.routers.platform.workers import worker_out
from domain.platform.contracts import executor_task_queue
from domain.platform.spec import Identifier
from domain.platform.status import JobStatus, WorkerStatus
from store import platform_jobs
from store.models import ApiKey, Role, Tenant
from store.platform import BootstrapToken, PlatformAttempt, PlatformJob, PlatformWorker
from store.sealed import open_text

router = APIRouter(prefix="/api/platform", tags=["platform: executors"], responses=ERROR_RESPONSES)
MAX_LOG_BATCH_BYTES = 1024 * 1024


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bootstrap_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    worker_type: Identifier
    capabilities: list[Identifier] = Field(default_factory=list, max_length=32)
    slots: int = Field(ge=1, le=1024)
    cpu_millis: int = Field(ge=1, le=10_000_000)
    memory_mb: int = Field(ge=1, le=100_000_000)
    hostname: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class Registered(BaseModel):
    worker_id: uuid.UUID
    api_key: str
    task_queue: str
    heartbeat_interval_seconds: float


@router.post("/workers/register", status_code=201, response_model=Registered)
async def register(body: Register, session: Session, request: Request) -> Registered:
    """The token is consumed in the transaction that inserts the worker and issues its key."""
    token = (
        await session.execute(
            select(BootstrapToken)
            .where(BootstrapToken.token_hash == digest(body.bootstrap_token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if token is None:
        raise ProblemError(401, "Unknown bootstrap token", "No such token; ask an admin for one.")
    refusal = None
    if token.revoked_at is not None:
        refusal = "This bootstrap token was revoked."
    elif token.consumed_at is not None:
        refusal = "This bootstrap token was already used; each registers one worker."
    elif token.expires_at <= datetime.now(UTC):
        refusal = f"This bootstrap token expired at {token.expires_at.isoformat()}."
    if refusal:
        raise ProblemError(410, "Bootstrap token not usable", refusal, retryable=False)
    tenant = await session.get_one(Tenant, token.tenant_id)
    worker = PlatformWorker(
        tenant_id=token.tenant_id,
        shared=tenant.name == ADMIN_TENANT,
        worker_type=body.worker_type,
        capabilities=sorted(set(body.capabilities)),
        slots=body.slots,
        cpu_millis=body.cpu_millis,
        memory_mb=body.memory_mb,
        hostname=body.hostname,
    )
    session.add(worker)
    await session.flush()
    key = generate()
    session.add(
        ApiKey(
            tenant_id=token.tenant_id,
            name=f"executor {worker.id}",
            role=Role.executor,
            key_hash=digest(key),
            prefix=key[:10],
            worker_id=worker.id,
        )
    )
    token.consumed_at = datetime.now(UTC)
    token.worker_id = worker.id
    await session.commit()
    await schedule(request)
    interval = request.app.state.settings.platform_executor_heartbeat_timeout_seconds / 3
    return Registered(
        worker_id=worker.id,
        api_key=key,
        task_queue=executor_task_queue(worker.id),
        heartbeat_interval_seconds=interval,
    )


# Built once: every executor call authenticates (api/keys.py does the same for other keys).
_WORKER_OF_KEY = select(ApiKey.worker_id).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.role == Role.executor, ApiKey.revoked_at.is_(None)
)


async def executor_worker(key: BearerKey, session: Session) -> uuid.UUID:
    """The worker whose key this is."""
    worker_id = (await session.execute(_WORKER_OF_KEY, {"key_hash": digest(key)})).scalar_one_or_none()
    if worker_id is None:
        raise invalid_key()
    return worker_id


Executor = Annotated[uuid.UUID, Depends(executor_worker)]


def _itself(caller: uuid.UUID, worker_id: uuid.UUID) -> None:
    if caller != worker_id:
        raise ProblemError(403, "Forbidden", "A worker's key acts only for that worker.")


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    running: int = Field(ge=0, le=100_000)
    draining: bool = False


class HeartbeatAnswer(BaseModel):
    status: WorkerStatus
    drain: bool


@router.post("/workers/{worker_id}/heartbeat", response_model=HeartbeatAnswer)
async def heartbeat(
    worker_id: uuid.UUID, body: Heartbeat, caller: Executor, session: Session, request: Request
) -> HeartbeatAnswer:
    _itself(caller, worker_id)
    row = await session.get_one(PlatformWorker, worker_id, with_for_update=True)
    before = worker_out(row, 0, request).status
    row.heartbeat_at = datetime.now(UTC)
    row.running_reported = body.running
    row.draining = body.draining
    row.lost = False
    await session.flush()
    await session.refresh(row)
    running = len(
        (
            await session.execute(
                select(PlatformAttempt.job_id).where(
                    PlatformAttempt.worker_id == worker_id, PlatformAttempt.ended_at.is_(None)
                )
            )
        ).all()
    )
    answer = HeartbeatAnswer(status=worker_out(row, running, request).status, drain=row.drain_requested)
    await session.commit()
    if before is WorkerStatus.OFFLINE and answer.status is not WorkerStatus.OFFLINE:
        await schedule(request)  # it is back: its capacity may place waiting jobs
    return answer


@router.post("/workers/{worker_id}/deregister", status_code=204)
async def deregister(worker_id: uuid.UUID, caller: Executor, session: Session) -> Response:
    _itself(caller, worker_id)
    now = datetime.now(UTC)
    await session.execute(
        update(PlatformWorker).where(PlatformWorker.id == worker_id).values(deregistered_at=now)
    )
    await session.execute(update(ApiKey).where(ApiKey.worker_id == worker_id).values(revoked_at=now))
    return Response(status_code=204)


async def _held(session: Session, caller: uuid.UUID, job_id: uuid.UUID, attempt: int) -> PlatformJob:
    """The job, if `caller` holds its attempt `attempt`: 404 unknown, 409 fenced."""
    found = (
        await session.execute(
            select(PlatformJob, PlatformAttempt.worker_id, PlatformAttempt.ended_at)
            .join(
                PlatformAttempt,
                (PlatformAttempt.job_id == PlatformJob.id) & (PlatformAttempt.attempt == attempt),
            )
            .where(PlatformJob.id == job_id)
        )
    ).one_or_none()
    if found is None:
        raise ProblemError(404, "Attempt not found", f"No attempt {attempt} of job {job_id}.")
    job, holder, ended_at = found
    if holder != caller or job.attempt != attempt or ended_at is not None:
        raise _superseded("This worker does not hold this attempt (it ended, or another took over).")
    return job


def _superseded(detail: str) -> ProblemError:
    return ProblemError(409, "Attempt superseded", detail, retryable=False)


class AttemptSpec(BaseModel):
    command: list[str] | None
    script: str | None
    env: dict[str, str]
    run_timeout_seconds: float
    grace_seconds: float
    cpu_millis: int
    memory_mb: int


@router.get("/executor/attempts/{job_id}/{attempt}", response_model=AttemptSpec)
async def attempt_spec(
    job_id: uuid.UUID, attempt: int, caller: Executor, session: Session, request: Request
) -> AttemptSpec:
    """What to run, secret env values in plaintext: only to the worker holding the attempt."""
    job = await _held(session, caller, job_id, attempt)
    spec = job.spec
    env = {name: value for name, value in spec["env"].items() if isinstance(value, str)}
    env |= {
        name: value["value"]
        for name, value in spec["env"].items()
        if isinstance(value, dict) and "value" in value
    }
    if job.sealed_secrets is not None:
        env |= json.loads(open_text(request.app.state.cipher, job.id, job.sealed_secrets))
    return AttemptSpec(
        command=spec["command"],
        script=spec["script"],
        env=env,
        run_timeout_seconds=spec["run_timeout_seconds"],
        grace_seconds=spec["grace_seconds"],
        cpu_millis=job.cpu_millis,
        memory_mb=job.memory_mb,
    )


class AttemptRunning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pid: int = Field(ge=1, le=2**31 - 1)


@router.post("/executor/attempts/{job_id}/{attempt}/started", status_code=204)
async def attempt_started(
    job_id: uuid.UUID, attempt: int, body: AttemptRunning, caller: Executor, session: Session
) -> Response:
    """The attempt's process runs: the job is RUNNING (JobStarted) as of now. Fenced as every
    attempt call is, and by the job's status: sent again, it changes nothing."""
    await _held(session, caller, job_id, attempt)
    recorded = await platform_jobs.started(await session.connection(), job_id, attempt, caller, body.pid)
    if recorded.status is not JobStatus.RUNNING:
        raise _superseded(f"The job is {recorded.status.value}: this attempt can no longer start it.")
    return Response(status_code=204)


class Chunk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0)
    stream: Literal["stdout", "stderr"]
    data: str
    at: datetime


class Chunks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chunks: list[Chunk] = Field(min_length=1, max_length=10_000)


_LOGS = text(
    """
    WITH c AS (
        INSERT INTO platform_log_chunks (job_id, attempt, seq, stream, data, at)
        SELECT :job_id, :attempt, c.seq, c.stream, c.data, c.at
        FROM unnest(CAST(:seqs AS int[]), CAST(:streams AS text[]), CAST(:datas AS text[]),
                    CAST(:ats AS timestamptz[])) AS c(seq, stream, data, at)
        ON CONFLICT DO NOTHING
        RETURNING seq
    )
    SELECT pg_notify('platform_logs', CAST(:job_id AS text) || ':' || :attempt || ':' || max(seq))
    FROM c HAVING count(*) > 0
    """
)


@router.post("/executor/attempts/{job_id}/{attempt}/logs", status_code=204)
async def ship_logs(
    job_id: uuid.UUID, attempt: int, body: Chunks, caller: Executor, session: Session
) -> Response:
    """Idempotent by (job, attempt, seq): a batch sent again stores nothing twice."""
    size = sum(len(c.data.encode()) for c in body.chunks)
    if size > MAX_LOG_BATCH_BYTES:
        raise ProblemError(
            413, "Log batch too large", f"{size} bytes; at most {MAX_LOG_BATCH_BYTES} per batch."
        )
    await _held(session, caller, job_id, attempt)
    await session.execute(
        _LOGS,
        {
            "job_id": job_id,
            "attempt": attempt,
            "seqs": [c.seq for c in body.chunks],
            "streams": [c.stream for c in body.chunks],
            "datas": [c.data for c in body.chunks],
            "ats": [c.at for c in body.chunks],
        },
    )
    return Response(status_code=204)
