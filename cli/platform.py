"""`tempoline job|worker|token`: the platform through its API, never PostgreSQL or Temporal.

Where: `--api-url` or TEMPOLINE_API_URL (default http://127.0.0.1:8000); who: `--api-key` or
TEMPOLINE_API_KEY. Tables and progress are for people (tables on stdout, progress and errors on
stderr); `--json` prints the API's own JSON for scripts.

Exit codes as cli/platform_common.py says; `job run --follow` exits with the job's exit code
(see `job_exit_code`).
"""

import asyncio
import json
import sys
import uuid
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from api.routers.platform.jobs import JobOut
from cli.job_spec_options import JobSpecCommand, with_job_spec
from cli.platform_api import PlatformApi
from cli.platform_common import (
    ApiKey,
    ApiUrl,
    AsJson,
    Cursor,
    IdempotencyKey,
    Limit,
    call_api,
    err,
    out,
    print_json,
    print_page,
    styled,
    table_of,
    when,
)
from clients import sse
from clients.tempoline_api import ApiError
from domain.platform.status import JobStatus, is_terminal

# Markdown: docstrings are reflowed (not cut where the source wraps) and `code` shows as code.
job_app = typer.Typer(
    help="Platform jobs: run, list, show, logs, cancel, retry.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
worker_app = typer.Typer(
    help="Temporal workers, and the platform's executor workers (`worker list`).", rich_markup_mode="markdown"
)
token_app = typer.Typer(
    help="Bootstrap tokens that executors register with (admin key).", no_args_is_help=True
)

# A job that ended without an exit code of its own: TIMED_OUT exits as timeout(1) does.
TIMED_OUT_EXIT = 124
# Ctrl-C while following: the job goes on, the shell sees an interrupted command.
INTERRUPTED_EXIT = 130


# -- job run ----------------------------------------------------------------------------------------


@job_app.command("run", cls=JobSpecCommand, short_help="Create a job; --follow streams its output.")
@with_job_spec
def run(
    spec: dict[str, Any],
    idempotency_key: IdempotencyKey = None,
    # No short form: `-f` after --command would be taken from commands such as `tail -f`.
    follow: Annotated[
        bool, typer.Option("--follow", help="Stream its output and exit with its exit code")
    ] = False,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Create a job, e.g. `tempoline job run --name hello --command echo hi --follow`; without
    --follow it prints the job's id (or --json) and returns at once. tempoline's own options may
    stand anywhere on the line; the words after a lone `--` are the command's."""

    async def work(api: PlatformApi) -> int | None:
        job = await api.create_job(spec, idempotency_key)
        if not follow:
            if as_json:
                print_json(job)
            else:
                print(job.id)
                err.print(f"job {job.id} {styled(job.status)}")
            return None
        err.print(f"[dim]tempoline:[/] job {job.id} {styled(job.status)}")
        return job_exit_code(await _follow(api, job))

    try:
        call_api(api_url, api_key, work)
    except KeyboardInterrupt:
        err.print(
            "\n[yellow]stopped following[/]; the job goes on (`tempoline job cancel ID` stops it,"
            " `tempoline job logs ID --follow` follows it again)"
        )
        raise typer.Exit(INTERRUPTED_EXIT) from None


def job_exit_code(job: JobOut) -> int:
    """SUCCEEDED: 0; FAILED: the command's exit code, 128+N if signal N killed it, else 1;
    TIMED_OUT: 124 (as timeout(1)); CANCELLED: 1."""
    if job.status == JobStatus.SUCCEEDED:
        return 0
    if job.status == JobStatus.FAILED:
        if job.exit_code:
            return job.exit_code
        return 128 + job.signal if job.signal else 1
    return TIMED_OUT_EXIT if job.status == JobStatus.TIMED_OUT else 1


# -- following a job: its output on stdout/stderr, its progress on stderr -----------------------------


class _Output:
    """Writes output chunks where the job wrote them, and progress lines between them."""

    def __init__(self) -> None:
        self._stderr_open_line = False

    def write(self, stream: str, data: str) -> None:
        target = sys.stderr if stream == "stderr" else sys.stdout
        target.write(data)
        target.flush()
        if stream == "stderr":
            self._stderr_open_line = bool(data) and not data.endswith("\n")

    def progress(self, text: str) -> None:
        if self._stderr_open_line:
            err.print()
            self._stderr_open_line = False
        err.print(f"[dim]tempoline:[/] {text}")


async def _follow(api: PlatformApi, job: JobOut) -> JobOut:
    """Streams the job's output until it has ended, then returns the job as it ended.

    Two streams: the output (`logs?follow=true`, which ends once the job has ended and its last
    chunk is sent) and the tenant's events after the job's last one known (`/events`), for
    progress. Progress is a help, not a need: if the events stream fails, the output is followed
    all the same."""
    output = _Output()

    async def show_progress() -> None:
        after = str(job.timeline[-1].id) if job.timeline else None
        try:
            async for message in api.events(after):
                event = json.loads(message.data)
                status = JobStatus(event["status"])
                if event["job_id"] != str(job.id) or is_terminal(status):
                    continue
                where = f" on worker {event['worker_id']}" if event.get("worker_id") else ""
                attempt = f" attempt {event['attempt']}" if event.get("attempt") else ""
                output.progress(f"job {job.id} {styled(status)}{attempt}{where}")
        except (ApiError, sse.StreamDropped, ValueError, KeyError) as exc:
            output.progress(f"[yellow]no progress shown[/] (the events stream failed: {escape(str(exc))})")

    progress = asyncio.create_task(show_progress())
    try:
        async for message in api.follow_logs(job.id):
            output.write(message.event, message.data)
    finally:
        progress.cancel()
        await asyncio.gather(progress, return_exceptions=True)
    final = await api.get_job(job.id)
    output.progress(_ending(final))
    return final


def _ending(job: JobOut) -> str:
    text = f"job {job.id} {styled(job.status)}"
    if job.exit_code is not None:
        text += f" (exit code {job.exit_code})"
    elif job.signal is not None:
        text += f" (killed by signal {job.signal})"
    if job.status != JobStatus.SUCCEEDED and job.error:
        text += f": {escape(job.error)}"
    return text


# -- job list / show / logs / cancel / retry ----------------------------------------------------------


@job_app.command("list")
def list_jobs(
    status: Annotated[JobStatus | None, typer.Option(help="Only jobs with this status")] = None,
    label: Annotated[str | None, typer.Option(help="Only jobs with this label (k=v)")] = None,
    worker_type: Annotated[str | None, typer.Option(help="Only jobs of this worker type")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The tenant's jobs, oldest first (--cursor pages on)."""

    async def work(api: PlatformApi) -> None:
        page = await api.list_jobs(
            status=status.value if status else None,
            label=label,
            worker_type=worker_type,
            limit=limit,
            cursor=cursor,
        )
        headers = ("ID", "NAME", "STATUS", "TYPE", "PRI", "ATTEMPT", "EXIT", "CREATED")
        print_page(
            page,
            as_json,
            headers,
            lambda j: (
                str(j.id),
                escape(j.name),
                styled(j.status),
                j.worker_type,
                str(j.priority),
                str(j.attempt),
                "" if j.exit_code is None else str(j.exit_code),
                when(j.created_at),
            ),
        )

    call_api(api_url, api_key, work)


@job_app.command("show")
def show(
    job_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")],
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """A job: its state, attempts and timeline (the audit log)."""

    async def work(api: PlatformApi) -> None:
        job = await api.get_job(job_id)
        if as_json:
            return print_json(job)
        about = Table.grid(padding=(0, 2))
        program = job.spec.get("command") or job.spec.get("script")
        rows = [
            ("id", str(job.id)),
            ("name", escape(job.name)),
            ("status", styled(job.status) + (f" ({escape(job.wait_reason)})" if job.wait_reason else "")),
            ("command" if job.spec.get("command") else "script", escape(json.dumps(program))),
            ("worker type", job.worker_type),
            ("priority", str(job.priority)),
            ("labels", escape(", ".join(f"{k}={v}" for k, v in job.labels.items()))),
            ("attempt", f"{job.attempt} of {job.spec.get('max_attempts', '?')}"),
            ("worker", str(job.worker_id or "")),
            ("exit code", "" if job.exit_code is None else str(job.exit_code)),
            ("signal", "" if job.signal is None else str(job.signal)),
            ("error", escape(job.error or "")),
            ("created", when(job.created_at)),
            ("finished", when(job.finished_at)),
            ("correlation id", job.correlation_id),
        ]
        for key, value in rows:
            if value:
                about.add_row(f"[bold]{key}[/]", value)
        out.print(about)
        if job.attempts:
            attempts = table_of(
                "ATTEMPT",
                "WORKER",
                "ASSIGNED",
                "STARTED",
                "ENDED",
                "OUTCOME",
                "EXIT",
                "ERROR",
                title="attempts",
            )
            for a in job.attempts:
                attempts.add_row(
                    str(a.attempt),
                    str(a.worker_id),
                    when(a.assigned_at),
                    when(a.started_at),
                    when(a.ended_at),
                    a.outcome or "",
                    "" if a.exit_code is None else str(a.exit_code),
                    escape(a.error or ""),
                )
            out.print(attempts)
        timeline = table_of("SEQ", "AT", "EVENT", "STATUS", "ATTEMPT", "WORKER", "DETAIL", title="timeline")
        for e in job.timeline:
            timeline.add_row(
                str(e.seq),
                when(e.at),
                e.event,
                styled(JobStatus(e.status)),
                "" if e.attempt is None else str(e.attempt),
                str(e.worker_id or ""),
                escape(e.detail or ""),
            )
        out.print(timeline)
        if job.output_tail:
            out.print("[bold]output tail[/]")
            print(job.output_tail, end="" if job.output_tail.endswith("\n") else "\n")

    call_api(api_url, api_key, work)


@job_app.command("logs", short_help="A job's output; --follow streams it live.")
def logs(
    job_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep streaming until the job has ended")
    ] = False,
    attempt: Annotated[int | None, typer.Option(min=1, help="Only this attempt's output")] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """A job's output, stdout to stdout and stderr to stderr, in order (every attempt's unless
    --attempt). With --follow it streams live, then prints how the job ended on stderr."""
    if follow and attempt is not None:
        raise typer.BadParameter(
            "--follow streams every attempt; leave out --attempt", param_hint="--attempt"
        )

    async def work(api: PlatformApi) -> None:
        if follow:
            await _follow(api, await api.get_job(job_id))
            return
        output, cursor = _Output(), None
        while True:
            page = await api.log_page(job_id, cursor=cursor, attempt=attempt)
            for chunk in page.items:
                output.write(chunk.stream, chunk.data)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    try:
        call_api(api_url, api_key, work)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED_EXIT) from None


@job_app.command("cancel")
def cancel(
    job_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")], api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """Kill the job's process group (SIGTERM, then SIGKILL after its grace period); it ends CANCELLED."""

    async def work(api: PlatformApi) -> None:
        answer = await api.cancel_job(job_id)
        out.print(f"job {answer.id} {styled(answer.status)}")

    call_api(api_url, api_key, work)


@job_app.command("retry")
def retry(
    job_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")], api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """Run a FAILED or TIMED_OUT job again (up to its max attempts more)."""

    async def work(api: PlatformApi) -> None:
        answer = await api.retry_job(job_id)
        out.print(f"job {answer.id} {styled(answer.status)}")

    call_api(api_url, api_key, work)


# -- workers and tokens -----------------------------------------------------------------------------


@worker_app.command("list")
def list_workers(
    limit: Limit = None,
    cursor: Cursor = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The executor workers this tenant's jobs may run on (registered, not deregistered)."""

    async def work(api: PlatformApi) -> None:
        page = await api.list_workers(limit=limit, cursor=cursor)
        headers = ("ID", "STATUS", "TYPE", "CAPABILITIES", "RUNNING", "CPU", "MEMORY", "HOST", "HEARTBEAT")
        print_page(
            page,
            as_json,
            headers,
            lambda w: (
                str(w.id),
                w.status.value,
                w.worker_type,
                ",".join(w.capabilities),
                f"{w.running}/{w.slots}",
                f"{w.cpu_millis}m",
                f"{w.memory_mb} MB",
                escape(w.hostname),
                when(w.heartbeat_at),
            ),
        )

    call_api(api_url, api_key, work)


@token_app.command("create")
def create_token(
    ttl: Annotated[int | None, typer.Option(help="Seconds it may be used (API: 3600)")] = None,
    name: Annotated[str | None, typer.Option(help="What it is for (API: executor)")] = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Issue a one-time bootstrap token; prints the token alone on stdout (it is shown only once),
    e.g. `TEMPOLINE_BOOTSTRAP_TOKEN=$(tempoline token create) tempoline executor --worker-type shell`."""

    async def work(api: PlatformApi) -> None:
        token = await api.create_token(ttl_seconds=ttl, name=name)
        if as_json:
            return print_json(token)
        print(token.token)
        err.print(
            f"bootstrap token {token.id} ({escape(token.name)}), usable once until {when(token.expires_at)}"
        )

    call_api(api_url, api_key, work)


@token_app.command("list")
def list_tokens(
    limit: Limit = None,
    cursor: Cursor = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The tenant's bootstrap tokens (never the tokens themselves: only their prefix)."""

    async def work(api: PlatformApi) -> None:
        page = await api.list_tokens(limit=limit, cursor=cursor)
        print_page(
            page,
            as_json,
            ("ID", "NAME", "PREFIX", "EXPIRES", "USED", "WORKER", "REVOKED"),
            lambda t: (
                str(t.id),
                escape(t.name),
                t.prefix,
                when(t.expires_at),
                when(t.consumed_at),
                str(t.worker_id or ""),
                when(t.revoked_at),
            ),
        )

    call_api(api_url, api_key, work)


@token_app.command("revoke")
def revoke_token(
    token_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Revoke a bootstrap token: a registration with it is refused from now on."""

    async def work(api: PlatformApi) -> None:
        token = await api.revoke_token(token_id)
        out.print(f"token {token.id} revoked at {when(token.revoked_at)}")

    call_api(api_url, api_key, work)
