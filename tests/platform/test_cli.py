"""`tempoline job|worker|token` as a user runs them: the real CLI as a subprocess, against the API
on a real port, with the platform's job workflows served in-process and a real executor process
(the setup of test_end_to_end.py)."""

import asyncio
import contextlib
import itertools
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from api.sse import KEEPALIVE_SECONDS
from core.settings import Settings
from registry import task_queues
from tests.conftest import free_port
from tests.integration.live_api import serve
from tests.platform.harness import PATIENCE
from tests.platform.test_api import member, status_of
from tests.platform.test_end_to_end import TEMPOLINE, ended, executor
from worker import build_workers


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Cli:
    """The `tempoline` command with one API key, run from a directory without a `.env`."""

    env: dict[str, str]
    cwd: Path

    def with_key(self, key: str) -> "Cli":
        return Cli({**self.env, "TEMPOLINE_API_KEY": key}, self.cwd)

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            TEMPOLINE,
            *args,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def __call__(self, *args: str) -> Ran:
        process = await self.start(*args)
        stdout, stderr = await asyncio.wait_for(process.communicate(), PATIENCE * 2)
        assert process.returncode is not None
        return Ran(process.returncode, stdout.decode(), stderr.decode())


@dataclass(frozen=True)
class World:
    url: str
    api: httpx.AsyncClient
    alice: dict[str, str]  # headers with alice's key
    cli: Cli  # alice's
    admin: Cli


def _key(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@asynccontextmanager
async def platform(
    settings: Settings,
    temporal: WorkflowEnvironment,
    admin_headers: dict[str, str],
    tmp_path: Path,
    *,
    url: str | None = None,
    with_executor: bool = True,
) -> AsyncIterator[World]:
    """The API, the job workflows and (`with_executor`) one executor; the CLI goes to `url`
    (default: the API itself)."""
    async with (
        serve(settings) as served,
        httpx.AsyncClient(base_url=served, timeout=30) as api,
        Dependencies.open(settings) as deps,
        AsyncExitStack() as stack,
    ):
        for w in build_workers(temporal.client, task_queues(deps, ["platform"])):
            await stack.enter_async_context(w)
        alice = await member(api, admin_headers, "alice")
        if with_executor:
            token = await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=admin_headers)
            assert token.status_code == 201, token.text
            await stack.enter_async_context(executor(settings, served, token.json()["token"], tmp_path))
            async with asyncio.timeout(PATIENCE):
                while not (await api.get("/api/platform/workers", headers=alice)).json()["items"]:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
        # Wide enough that no message is wrapped (rich reads COLUMNS).
        base = {**os.environ, "TEMPOLINE_API_URL": url or served, "COLUMNS": "250"}
        base.pop("TEMPOLINE_API_KEY", None)
        cli = Cli(base, tmp_path)
        yield World(served, api, alice, cli.with_key(_key(alice)), cli.with_key(_key(admin_headers)))


async def test_run_follow_prints_the_output_and_exits_with_the_jobs_exit_code(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    async with platform(settings, temporal, admin_headers, tmp_path) as world:
        # As the issue writes it: the command's words, then tempoline's own option.
        started = time.monotonic()
        hello = await world.cli("job", "run", "--name", "hello", "--command", "echo", "hi", "--follow")
        took = time.monotonic() - started
        assert (hello.code, hello.stdout) == (0, "hi\n"), hello.stderr
        assert "RUNNING attempt 1 on worker" in hello.stderr and "SUCCEEDED (exit code 0)" in hello.stderr
        # It ends with the job, not at the output stream's next keep-alive (15 s after the end).
        assert took < KEEPALIVE_SECONDS - 3, took

        three = await world.cli(
            "job", "run", "--name", "three", "--follow", "--command", "--",
            "sh", "-c", "echo out; echo err >&2; exit 3",
        )  # fmt: skip
        assert (three.code, three.stdout) == (3, "out\n"), three.stderr
        assert "err\n" in three.stderr and "FAILED (exit code 3)" in three.stderr

        script = await world.cli(
            "job", "run", "--name", "s", "--script", "echo $GREETING; exit 7",
            "--follow", "--env", "GREETING=hello there",
        )  # fmt: skip
        assert (script.code, script.stdout) == (7, "hello there\n"), script.stderr

        # The command's own option without `--`: refused before anything is created, saying where it goes.
        dashed = await world.cli("job", "run", "--name", "x", "--command", "sh", "-c", "exit 3")
        assert dashed.code == 2
        assert "-c is no option of tempoline job run" in dashed.stderr
        assert "--command -- sh -c" in dashed.stderr
        assert len((await world.api.get("/api/platform/jobs", headers=world.alice)).json()["items"]) == 3


async def test_output_arrives_line_by_line_while_the_job_runs(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    async with platform(settings, temporal, admin_headers, tmp_path) as world:
        process = await world.cli.start(
            "job", "run", "--name", "slow", "--follow", "--script",
            "for i in 1 2 3 4 5; do echo line $i; sleep 1; done",
        )  # fmt: skip
        assert process.stdout is not None
        arrived: list[tuple[float, bytes]] = []
        async with asyncio.timeout(PATIENCE):
            while line := await process.stdout.readline():
                arrived.append((time.monotonic(), line))
                if len(arrived) == 1:
                    # The first line is out while the job still runs.
                    jobs = (await world.api.get("/api/platform/jobs", headers=world.alice)).json()["items"]
                    assert [j["status"] for j in jobs] == ["RUNNING"]
            assert await process.wait() == 0
        assert [line for _, line in arrived] == [f"line {i}\n".encode() for i in range(1, 6)]
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(arrived)]
        # One line a second: each came on its own, not in one burst at the end.
        assert all(gap > 0.5 for gap in gaps), gaps


async def test_list_show_logs_cancel_retry_workers_and_tokens(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    async with platform(settings, temporal, admin_headers, tmp_path) as world:
        cli, api, alice = world.cli, world.api, world.alice
        hello = await cli("job", "run", "--name", "hello", "--label", "team=core", "--command", "echo", "hi")
        assert hello.code == 0, hello.stderr
        hello_id = hello.stdout.strip()
        assert (await ended(api, hello_id, alice))["status"] == "SUCCEEDED"

        sleeper = await cli("job", "run", "--name", "sleeper", "--json", "--command", "sleep", "600")
        assert sleeper.code == 0, sleeper.stderr
        sleeper_id = json.loads(sleeper.stdout)["id"]
        async with asyncio.timeout(PATIENCE):
            while await status_of(api, sleeper_id, alice) != "RUNNING":  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        cancelled = await cli("job", "cancel", sleeper_id)
        assert cancelled.code == 0 and sleeper_id in cancelled.stdout, cancelled.stderr
        assert (await ended(api, sleeper_id, alice))["status"] == "CANCELLED"
        again = await cli("job", "cancel", sleeper_id)
        assert again.code == 1 and "Cannot cancel this job: The job has ended (CANCELLED)" in again.stderr

        listed = await cli("job", "list", "--json")
        assert listed.code == 0, listed.stderr
        assert {j["id"] for j in json.loads(listed.stdout)["items"]} == {hello_id, sleeper_id}
        only = json.loads((await cli("job", "list", "--status", "CANCELLED", "--json")).stdout)["items"]
        assert [j["id"] for j in only] == [sleeper_id]
        labelled = json.loads((await cli("job", "list", "--label", "team=core", "--json")).stdout)["items"]
        assert [j["id"] for j in labelled] == [hello_id]
        table = await cli("job", "list", "--limit", "1")
        assert table.code == 0 and hello_id in table.stdout and sleeper_id not in table.stdout
        assert "more: --cursor " in table.stderr

        shown = await cli("job", "show", sleeper_id)
        assert shown.code == 0, shown.stderr
        for event in ("JobCreated", "JobScheduled", "JobStarted", "JobCancelled"):
            assert event in shown.stdout
        as_json = json.loads((await cli("job", "show", sleeper_id, "--json")).stdout)
        assert [e["event"] for e in as_json["timeline"]][-1] == "JobCancelled"

        logs = await cli("job", "logs", hello_id)
        assert (logs.code, logs.stdout) == (0, "hi\n"), logs.stderr
        followed = await cli("job", "logs", hello_id, "--follow")  # an ended job: its output, then done
        assert (followed.code, followed.stdout) == (0, "hi\n"), followed.stderr

        failing = await cli("job", "run", "--name", "fails", "--script", "exit 4", "--follow")
        assert failing.code == 4, failing.stderr
        failed_id = json.loads((await cli("job", "list", "--status", "FAILED", "--json")).stdout)["items"][0][
            "id"
        ]
        retried = await cli("job", "retry", failed_id)
        assert retried.code == 0 and "RETRYING" in retried.stdout, retried.stderr
        done = await ended(api, failed_id, alice)
        assert [a["attempt"] for a in done["attempts"]] == [1, 2]  # type: ignore[index]

        workers = await cli("worker", "list", "--json")
        assert [w["status"] for w in json.loads(workers.stdout)["items"]] == ["available"]
        assert "available" in (await cli("worker", "list")).stdout
        # Piped without COLUMNS: each row on one line, whole, for grep.
        piped = Cli({k: v for k, v in cli.env.items() if k != "COLUMNS"}, cli.cwd)
        [row] = [line for line in (await piped("worker", "list")).stdout.splitlines() if "available" in line]
        assert workers_id(workers) in row and "default" in row

        token = await world.admin("token", "create", "--ttl", "600")
        assert token.code == 0 and token.stdout.startswith("tlb_"), token.stderr
        tokens = json.loads((await world.admin("token", "list", "--json")).stdout)["items"]
        fresh = next(t for t in tokens if token.stdout.startswith(t["prefix"]) and t["consumed_at"] is None)
        assert (await world.admin("token", "revoke", fresh["id"])).code == 0
        refused = await api.post(
            "/api/platform/workers/register",
            json={"bootstrap_token": token.stdout.strip(), "worker_type": "default", "capabilities": [],
                  "slots": 1, "cpu_millis": 1000, "memory_mb": 512, "hostname": "h"},
        )  # fmt: skip
        assert refused.status_code in (401, 410), refused.text
        member_only = await cli("token", "create")
        assert member_only.code == 1 and "HTTP 403" in member_only.stderr


async def test_bad_input_gets_the_apis_reason_and_exit_code_2(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    async with platform(settings, temporal, admin_headers, tmp_path, with_executor=False) as world:
        cli = world.cli
        cases = {
            ("--priority", "12", "--command", "true"): "priority: Input should be less than or equal to 9",
            (
                "--command",
                "true",
                "--script",
                "true",
            ): "give exactly one of command and script (both were given)",
            ("--command",): "command: List should have at least 1 item",
            ("--timeout", "-5", "--command", "true"): "run_timeout_seconds: Input should be greater than 0",
            ("--concurrency-key", "k", "--command", "true"): "concurrency.limit: Field required",
            ("--concurrency-key", "k", "--concurrency-limit", "0", "--command", "true"): "concurrency.limit",
            ("--strategy", "fastest", "--command", "true"): "strategy: Input should be",
        }
        for args, reason in cases.items():
            ran = await cli("job", "run", "--name", "bad", *args)
            assert ran.code == 2, (args, ran)
            assert "Invalid request" in ran.stderr and reason in ran.stderr, (args, ran.stderr)
            assert "Traceback" not in ran.stderr
        assert (await world.api.get("/api/platform/jobs", headers=world.alice)).json()["items"] == []

        # What the command line itself cannot say is click's usage error, also 2.
        local = await cli("job", "run", "--name", "bad", "--env", "NOVALUE", "--command", "true")
        assert local.code == 2 and "'NOVALUE' is not KEY=VALUE" in local.stderr
        assert (await cli("job", "show", "not-a-uuid")).code == 2
        # Refusals that are not about the input: 1, with the problem's title and detail.
        missing = await cli("job", "show", str(uuid.uuid4()))
        assert (
            missing.code == 1 and "Job not found: No job" in missing.stderr and "HTTP 404" in missing.stderr
        )
        wrong_key = await cli.with_key("nope")("job", "list")
        assert wrong_key.code == 1 and "HTTP 401" in wrong_key.stderr
        no_key = await Cli(cli.env | {"TEMPOLINE_API_KEY": ""}, cli.cwd)("job", "list")
        assert no_key.code == 2 and "TEMPOLINE_API_KEY" in no_key.stderr


async def test_an_unreachable_api_is_named(tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}"
    cli = Cli({**os.environ, "TEMPOLINE_API_KEY": "k", "COLUMNS": "250"}, tmp_path)
    ran = await cli("job", "list", "--api-url", url)
    assert ran.code == 1
    assert f"could not reach the API (GET {url}/api/platform/jobs" in ran.stderr
    assert "TEMPOLINE_API_URL" in ran.stderr and "Traceback" not in ran.stderr


class CuttingProxy:
    """A TCP proxy to the API whose open connections the test can cut (as a restart or a
    network blip would), while new ones still go through."""

    def __init__(self) -> None:
        self.port = free_port()
        self.upstream_port = 0
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()

    @asynccontextmanager
    async def running(self, upstream_port: int) -> AsyncIterator["CuttingProxy"]:
        self.upstream_port = upstream_port
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        async with server:
            yield self
            self.cut()


async def test_follow_resumes_after_a_dropped_connection_without_losing_or_repeating_output(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    proxy = CuttingProxy()
    async with platform(
        settings, temporal, admin_headers, tmp_path, url=f"http://127.0.0.1:{proxy.port}"
    ) as world:
        async with proxy.running(int(world.url.rsplit(":", 1)[1])):
            process = await world.cli.start(
                "job", "run", "--name", "blips", "--follow", "--script",
                "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.5; done",
            )  # fmt: skip
            assert process.stdout is not None and process.stderr is not None
            lines: list[bytes] = []
            async with asyncio.timeout(PATIENCE):
                while line := await process.stdout.readline():
                    lines.append(line)
                    if len(lines) in (2, 4):
                        proxy.cut()  # mid-stream, while the job still prints
                stderr = await process.stderr.read()
                assert await process.wait() == 0, stderr.decode()
        assert lines == [f"line {i}\n".encode() for i in range(1, 7)]
        assert proxy.connections >= 4  # both streams came back after the cuts


def workers_id(listed: Ran) -> str:
    return json.loads(listed.stdout)["items"][0]["id"]
