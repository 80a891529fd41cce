"""A stand-in for the API's executor endpoints (the contract's five), served over real HTTP,
until platform-core's routers exist: the executor's client and process are tested against it.
It keeps the contract's rules that the executor depends on: the bootstrap token works once,
a worker's key calls only for that worker, fenced attempts answer 409, errors are problem+json.
"""

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from clients.tempoline_api import AttemptFenced, LogChunk, NotFound
from domain.platform.contracts import executor_task_queue
from tests.executor.doubles import MemoryAttempts


@dataclass
class Worker:
    id: uuid.UUID
    api_key: str
    registration: dict[str, Any]
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    drain: bool = False
    deregistered: bool = False


def _problem(status: int, title: str, detail: str | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, **({"detail": detail} if detail else {})}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass
class PlatformApi:
    attempts: MemoryAttempts = field(default_factory=MemoryAttempts)
    tokens: dict[str, str] = field(default_factory=dict)  # token → "fresh" | "used" | "revoked"
    workers: dict[uuid.UUID, Worker] = field(default_factory=dict)
    heartbeat_interval: float = 0.2

    def token(self) -> str:
        token = f"tlb_{secrets.token_urlsafe(16)}"
        self.tokens[token] = "fresh"
        return token

    def _worker(self, request: Request, worker_id: uuid.UUID) -> Worker | JSONResponse:
        worker = self.workers.get(worker_id)
        if worker is None or request.headers.get("authorization") != f"Bearer {worker.api_key}":
            return _problem(401, "Unauthorized", "unknown API key, or another worker's")
        return worker

    def app(self) -> FastAPI:
        app = FastAPI()
        prefix = "/api/platform"

        @app.post(f"{prefix}/workers/register", status_code=201)
        async def register(body: dict[str, Any]) -> Any:
            state = self.tokens.get(body.get("bootstrap_token", ""))
            if state is None:
                return _problem(401, "Unknown bootstrap token")
            if state != "fresh":
                return _problem(410, "Bootstrap token not usable", f"the token was {state}")
            self.tokens[body["bootstrap_token"]] = "used"
            worker = Worker(uuid.uuid4(), f"tlw_{secrets.token_urlsafe(16)}", body)
            self.workers[worker.id] = worker
            return {
                "worker_id": str(worker.id),
                "api_key": worker.api_key,
                "task_queue": executor_task_queue(worker.id),
                "heartbeat_interval_seconds": self.heartbeat_interval,
            }

        @app.post(f"{prefix}/workers/{{worker_id}}/heartbeat")
        async def heartbeat(worker_id: uuid.UUID, request: Request, body: dict[str, Any]) -> Any:
            worker = self._worker(request, worker_id)
            if isinstance(worker, JSONResponse):
                return worker
            worker.heartbeats.append(body)
            status = "draining" if body["draining"] else ("busy" if body["running"] else "available")
            return {"status": status, "drain": worker.drain}

        @app.post(f"{prefix}/workers/{{worker_id}}/deregister", status_code=204)
        async def deregister(worker_id: uuid.UUID, request: Request) -> Response:
            worker = self._worker(request, worker_id)
            if isinstance(worker, JSONResponse):
                return worker
            worker.deregistered = True
            return Response(status_code=204)

        @app.get(f"{prefix}/executor/attempts/{{job_id}}/{{attempt}}")
        async def attempt_spec(job_id: uuid.UUID, attempt: int, request: Request) -> Any:
            if not self._authorized(request):
                return _problem(401, "Unauthorized")
            try:
                return (await self.attempts.attempt_spec(job_id, attempt)).model_dump()
            except AttemptFenced:
                return _problem(409, "Attempt superseded", "this worker does not hold the attempt")
            except NotFound:
                return _problem(404, "Not found", "no such attempt")

        @app.post(f"{prefix}/executor/attempts/{{job_id}}/{{attempt}}/started", status_code=204)
        async def started(
            job_id: uuid.UUID, attempt: int, request: Request, body: dict[str, Any]
        ) -> Response:
            if not self._authorized(request):
                return _problem(401, "Unauthorized")
            try:
                await self.attempts.attempt_started(job_id, attempt, body["pid"])
            except AttemptFenced:
                return _problem(409, "Attempt superseded", "this worker does not hold the attempt")
            return Response(status_code=204)

        @app.post(f"{prefix}/executor/attempts/{{job_id}}/{{attempt}}/logs", status_code=204)
        async def logs(job_id: uuid.UUID, attempt: int, request: Request, body: dict[str, Any]) -> Response:
            if not self._authorized(request):
                return _problem(401, "Unauthorized")
            chunks = [LogChunk.model_validate(c) for c in body["chunks"]]
            try:
                await self.attempts.ship_logs(job_id, attempt, chunks)
            except AttemptFenced:
                return _problem(409, "Attempt superseded", "this worker does not hold the attempt")
            return Response(status_code=204)

        return app

    def _authorized(self, request: Request) -> bool:
        keys = {f"Bearer {w.api_key}" for w in self.workers.values() if not w.deregistered}
        return request.headers.get("authorization") in keys
