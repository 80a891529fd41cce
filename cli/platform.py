"""`tempoline job|worker|token`: the platform through its API, never PostgreSQL or Temporal.

Where: `--api-url` or TEMPOLINE_API_URL (default http://127.0.0.1:8000); who: `--api-key` or
TEMPOLINE_API_KEY. Tables and progress are for people (tables on stdout, progress and errors on
stderr); `--json` prints the API's own JSON for scripts.

Exit codes: 0 done; 1 the API refused (its problem+json title and detail are printed) or could
not be reached (the URL tried is printed); 2 bad input, whether the command line's (click's own
usage errors) or the request's (the API's 422, each field and reason): either way the fix is in
what was typed. `job run --follow` exits with the job's exit code (see `job_exit_code`).
"""

import asyncio
import contextlib
import itertools
import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from api.routers.platform.jobs import JobOut
from cli.platform_api import PlatformApi
from clients import sse
from clients.tempoline_api import ApiError, TempolineApi
from core.settings import get_settings
from domain.platform.status import JobStatus, is_terminal

out = Console(highlight=False)
# Messages are not wrapped: a reason split over lines is harder to read and to grep.
err = Console(stderr=True, highlight=False, soft_wrap=True)

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

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="The API's base URL (default: TEMPOLINE_API_URL, else http://127.0.0.1:8000)",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", help="API key (default: TEMPOLINE_API_KEY)", show_default=False)
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table")]
Limit = Annotated[
    int | None, typer.Option(min=1, help="Page size (the API's default: 50)", show_default=False)
]
Cursor = Annotated[
    str | None, typer.Option(help="Start after this page (the `--cursor` a previous page printed)")
]

# A job that ended without an exit code of its own: TIMED_OUT exits as timeout(1) does.
TIMED_OUT_EXIT = 124
# Ctrl-C while following: the job goes on, the shell sees an interrupted command.
INTERRUPTED_EXIT = 130


# -- plumbing: connecting, running, failing ---------------------------------------------------------


@contextlib.asynccontextmanager
async def _connect(api_url: str | None, api_key: str | None) -> AsyncIterator[PlatformApi]:
    settings = get_settings()
    key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not key:
        raise typer.BadParameter("pass --api-key or set TEMPOLINE_API_KEY", param_hint="--api-key")
    # A refused connection is retried by httpx (2 more tries, backoff from 0.5 s): nothing was sent.
    async with TempolineApi.http_client(api_url or settings.api_url, connect_retries=2, timeout=60.0) as http:
        yield PlatformApi(http, key)


def _run(
    api_url: str | None, api_key: str | None, work: Callable[[PlatformApi], Coroutine[Any, Any, int | None]]
) -> None:
    """Runs `work` against the API; an ApiError becomes its message and exit code."""

    async def session() -> int | None:
        async with _connect(api_url, api_key) as api:
            return await work(api)

    try:
        code = asyncio.run(session())
    except ApiError as exc:
        raise _failed(exc) from None
    if code:
        raise typer.Exit(code)


def _failed(exc: ApiError) -> Exception:
    said = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
    if exc.status is None:
        err.print(
            f"[red]error:[/] could not reach the API ({escape(exc.where)}: {escape(exc.detail or '')});"
            " is it running? Set TEMPOLINE_API_URL or pass --api-url."
        )
        return typer.Exit(1)
    # Bad input like a usage error: the fix is in what was typed.
    code = 2 if exc.status == 422 else 1
    err.print(f"[red]error:[/] {escape(said)} [dim](HTTP {exc.status} from {escape(exc.where)})[/]")
    return typer.Exit(code)


def _print_json(model: BaseModel) -> None:
    # Plain print: rich would wrap long lines and colour them.
    print(model.model_dump_json(indent=2))


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        pairs[key] = value
    return pairs


def _when(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _table(*headers: str, title: str | None = None) -> Table:
    """Columns fold rather than cut (an id cut short is of no use), ids on one line."""
    table = Table(box=None, title=title, title_justify="left")
    for header in headers:
        whole = header in ("ID", "WORKER")
        table.add_column(header, no_wrap=whole, min_width=36 if whole else None, overflow="fold")
    return table


def _more(cursor: str | None) -> None:
    if cursor:
        err.print(f"[dim]more: --cursor {cursor}[/]")


STATUS_STYLE = {
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "red",
    JobStatus.TIMED_OUT: "red",
    JobStatus.CANCELLED: "yellow",
    JobStatus.RUNNING: "cyan",
}


def _status(status: JobStatus) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status.value}[/]" if style else status.value


# -- job run ----------------------------------------------------------------------------------------


class _RunCommand(TyperCommand):
    """`job run`: a dash-word after --command that tempoline does not know is most likely the
    command's own option; say where it goes rather than only that it is unknown."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if "--command" in args:
            known = {name for param in self.params for name in (*param.opts, *param.secondary_opts)}
            after = itertools.takewhile(lambda a: a != "--", args[args.index("--command") + 1 :])
            for word in after:
                if word.startswith("-") and word != "-" and word.partition("=")[0] not in known:
                    raise typer.BadParameter(
                        f"{word} is no option of tempoline job run; if it is the command's own, put"
                        " `--` before the command: tempoline job run --name N --command -- sh -c 'exit 3'",
                        ctx=ctx,
                        param_hint="--command",
                    )
        return super().parse_args(ctx, args)


@job_app.command("run", cls=_RunCommand, short_help="Create a job; --follow streams its output.")
def run(
    name: Annotated[str, typer.Option(help="The job's name")],
    program: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ARGV", help="With --command: PROGRAM [ARG]..., the argv to run", show_default=False
        ),
    ] = None,
    command: Annotated[
        bool,
        typer.Option(
            "--command",
            help="Run PROGRAM with its ARGs (no shell), given at the end of the line;"
            " put `--` before them when they have options of their own",
        ),
    ] = False,
    script: Annotated[str | None, typer.Option(help="Shell text to run instead of a command")] = None,
    worker_type: Annotated[
        str | None, typer.Option(help="The executor type to run on (API: default)")
    ] = None,
    capability: Annotated[
        list[str], typer.Option(help="A capability the worker must have (repeatable)")
    ] = [],  # noqa: B006
    label: Annotated[list[str], typer.Option(help="k=v (repeatable)")] = [],  # noqa: B006
    env: Annotated[list[str], typer.Option(help="K=V in the job's environment (repeatable)")] = [],  # noqa: B006
    secret_env: Annotated[
        list[str], typer.Option(help="K=V kept secret: sealed at rest, never shown back (repeatable)")
    ] = [],  # noqa: B006
    priority: Annotated[int | None, typer.Option(help="0 lowest to 9 highest (API: 5)")] = None,
    timeout: Annotated[float | None, typer.Option(help="Run timeout in seconds (API: 3600)")] = None,
    queue_timeout: Annotated[
        float | None, typer.Option(help="Seconds it may wait for a worker (API: 3600)")
    ] = None,
    max_attempts: Annotated[int | None, typer.Option(help="Attempts in all (API: 1)")] = None,
    cpu: Annotated[int | None, typer.Option(help="CPU request in millicores (API: 100)")] = None,
    memory: Annotated[int | None, typer.Option(help="Memory request in MB (API: 128)")] = None,
    concurrency_key: Annotated[
        str | None, typer.Option(help="At most --concurrency-limit running jobs share this key")
    ] = None,
    concurrency_limit: Annotated[int | None, typer.Option(help="See --concurrency-key")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="least-loaded (API default), round-robin or bin-packing")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="The same key again returns the job already created")
    ] = None,
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
    if program and not command:
        raise typer.BadParameter(
            f"{' '.join(program)!r}: a command to run goes after --command", param_hint="PROGRAM"
        )
    body: dict[str, Any] = {"name": name}
    if command:
        body["command"] = program or []
    optional = {
        "script": script,
        "worker_type": worker_type,
        "priority": priority,
        "run_timeout_seconds": timeout,
        "queue_timeout_seconds": queue_timeout,
        "max_attempts": max_attempts,
        "cpu_millis": cpu,
        "memory_mb": memory,
        "strategy": strategy,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    if capability:
        body["capabilities"] = capability
    if label:
        body["labels"] = _pairs(label, "--label")
    plain, secret = _pairs(env, "--env"), _pairs(secret_env, "--secret-env")
    if plain or secret:
        body["env"] = plain | {k: {"value": v, "secret": True} for k, v in secret.items()}
    if concurrency_key is not None or concurrency_limit is not None:
        # Half a pair goes too: the API names the missing half.
        body["concurrency"] = {
            k: v for k, v in {"key": concurrency_key, "limit": concurrency_limit}.items() if v is not None
        }

    async def work(api: PlatformApi) -> int | None:
        job = await api.create_job(body, idempotency_key)
        if not follow:
            if as_json:
                _print_json(job)
            else:
                print(job.id)
                err.print(f"job {job.id} {_status(job.status)}")
            return None
        err.print(f"[dim]tempoline:[/] job {job.id} {_status(job.status)}")
        return job_exit_code(await _follow(api, job))

    try:
        _run(api_url, api_key, work)
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
    """Writes output chunks where the job wrote them; remembers the last one written."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self._stderr_open_line = False

    def write(self, stream: str, data: str, cursor: str | None) -> None:
        target = sys.stderr if stream == "stderr" else sys.stdout
        target.write(data)
        target.flush()
        if stream == "stderr":
            self._stderr_open_line = bool(data) and not data.endswith("\n")
        # No await between writing and moving the cursor: a cancel never loses or repeats a chunk.
        self.cursor = cursor

    def progress(self, text: str) -> None:
        if self._stderr_open_line:
            err.print()
            self._stderr_open_line = False
        err.print(f"[dim]tempoline:[/] {text}")


async def _follow(api: PlatformApi, job: JobOut) -> JobOut:
    """Streams the job's output until it has ended, then returns the job as it ended.

    Two streams: the output (`logs?follow=true`) and the tenant's events after the job's last
    one known (`/events`), for progress. The output stream ends by itself once the job has ended;
    should the job's end event come first, the rest of the output is read in pages after the last
    chunk written (the job's status is written after its last chunk is stored), so the command
    does not wait for the output stream's next wake-up. Progress is a help, not a need: if the
    events stream fails, the output is followed all the same."""
    output = _Output()
    ended = asyncio.Event()

    async def copy_output() -> None:
        async for message in api.follow_logs(job.id):
            output.write(message.event, message.data, message.id)

    async def show_progress() -> None:
        after = str(job.timeline[-1].id) if job.timeline else None
        try:
            async for message in api.events(after):
                event = json.loads(message.data)
                if event["job_id"] != str(job.id):
                    continue
                status = JobStatus(event["status"])
                if is_terminal(status):
                    ended.set()
                    return
                where = f" on worker {event['worker_id']}" if event.get("worker_id") else ""
                attempt = f" attempt {event['attempt']}" if event.get("attempt") else ""
                output.progress(f"job {job.id} {_status(status)}{attempt}{where}")
        except (ApiError, sse.StreamDropped, ValueError, KeyError) as exc:
            output.progress(f"[yellow]no progress shown[/] (the events stream failed: {escape(str(exc))})")

    copying = asyncio.create_task(copy_output())
    tasks = [copying, asyncio.create_task(show_progress()), asyncio.create_task(ended.wait())]
    try:
        await asyncio.wait([copying, tasks[2]], return_when=asyncio.FIRST_COMPLETED)
        if copying.done():
            copying.result()  # raises what ended it, if anything did
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    cursor = output.cursor
    while True:
        page = await api.log_page(job.id, cursor=cursor)
        for chunk in page.items:
            output.write(chunk.stream, chunk.data, f"{chunk.attempt}.{chunk.seq}")
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    final = await api.get_job(job.id)
    output.progress(_ending(final))
    return final


def _ending(job: JobOut) -> str:
    text = f"job {job.id} {_status(job.status)}"
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
        if as_json:
            return _print_json(page)
        table = _table("ID", "NAME", "STATUS", "TYPE", "PRI", "ATTEMPT", "EXIT", "CREATED")
        for j in page.items:
            exit_code = "" if j.exit_code is None else str(j.exit_code)
            table.add_row(
                str(j.id),
                escape(j.name),
                _status(j.status),
                j.worker_type,
                str(j.priority),
                str(j.attempt),
                exit_code,
                _when(j.created_at),
            )
        out.print(table)
        _more(page.next_cursor)

    _run(api_url, api_key, work)


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
            return _print_json(job)
        about = Table.grid(padding=(0, 2))
        program = job.spec.get("command") or job.spec.get("script")
        rows = [
            ("id", str(job.id)),
            ("name", escape(job.name)),
            ("status", _status(job.status) + (f" ({escape(job.wait_reason)})" if job.wait_reason else "")),
            ("command" if job.spec.get("command") else "script", escape(json.dumps(program))),
            ("worker type", job.worker_type),
            ("priority", str(job.priority)),
            ("labels", escape(", ".join(f"{k}={v}" for k, v in job.labels.items()))),
            ("attempt", f"{job.attempt} of {job.spec.get('max_attempts', '?')}"),
            ("worker", str(job.worker_id or "")),
            ("exit code", "" if job.exit_code is None else str(job.exit_code)),
            ("signal", "" if job.signal is None else str(job.signal)),
            ("error", escape(job.error or "")),
            ("created", _when(job.created_at)),
            ("finished", _when(job.finished_at)),
            ("correlation id", job.correlation_id),
        ]
        for key, value in rows:
            if value:
                about.add_row(f"[bold]{key}[/]", value)
        out.print(about)
        if job.attempts:
            attempts = _table(
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
                    _when(a.assigned_at),
                    _when(a.started_at),
                    _when(a.ended_at),
                    a.outcome or "",
                    "" if a.exit_code is None else str(a.exit_code),
                    escape(a.error or ""),
                )
            out.print(attempts)
        timeline = _table("SEQ", "AT", "EVENT", "STATUS", "ATTEMPT", "WORKER", "DETAIL", title="timeline")
        for e in job.timeline:
            timeline.add_row(
                str(e.seq),
                _when(e.at),
                e.event,
                _status(JobStatus(e.status)),
                "" if e.attempt is None else str(e.attempt),
                str(e.worker_id or ""),
                escape(e.detail or ""),
            )
        out.print(timeline)
        if job.output_tail:
            out.print("[bold]output tail[/]")
            print(job.output_tail, end="" if job.output_tail.endswith("\n") else "\n")

    _run(api_url, api_key, work)


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
                output.write(chunk.stream, chunk.data, None)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    try:
        _run(api_url, api_key, work)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED_EXIT) from None


@job_app.command("cancel")
def cancel(
    job_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")], api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """Kill the job's process group (SIGTERM, then SIGKILL after its grace period); it ends CANCELLED."""

    async def work(api: PlatformApi) -> None:
        answer = await api.cancel_job(job_id)
        out.print(f"job {answer.id} {_status(answer.status)}")

    _run(api_url, api_key, work)


@job_app.command("retry")
def retry(
    job_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")], api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """Run a FAILED or TIMED_OUT job again (up to its max attempts more)."""

    async def work(api: PlatformApi) -> None:
        answer = await api.retry_job(job_id)
        out.print(f"job {answer.id} {_status(answer.status)}")

    _run(api_url, api_key, work)


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
        if as_json:
            return _print_json(page)
        table = _table(
            "ID", "STATUS", "TYPE", "CAPABILITIES", "RUNNING", "CPU", "MEMORY", "HOST", "HEARTBEAT"
        )
        for w in page.items:
            table.add_row(
                str(w.id),
                w.status.value,
                w.worker_type,
                ",".join(w.capabilities),
                f"{w.running}/{w.slots}",
                f"{w.cpu_millis}m",
                f"{w.memory_mb} MB",
                escape(w.hostname),
                _when(w.heartbeat_at),
            )
        out.print(table)
        _more(page.next_cursor)

    _run(api_url, api_key, work)


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
            return _print_json(token)
        print(token.token)
        err.print(
            f"bootstrap token {token.id} ({escape(token.name)}), usable once until {_when(token.expires_at)}"
        )

    _run(api_url, api_key, work)


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
        if as_json:
            return _print_json(page)
        table = _table("ID", "NAME", "PREFIX", "EXPIRES", "USED", "WORKER", "REVOKED")
        for t in page.items:
            table.add_row(
                str(t.id),
                escape(t.name),
                t.prefix,
                _when(t.expires_at),
                _when(t.consumed_at),
                str(t.worker_id or ""),
                _when(t.revoked_at),
            )
        out.print(table)
        _more(page.next_cursor)

    _run(api_url, api_key, work)


@token_app.command("revoke")
def revoke_token(
    token_id: Annotated[uuid.UUID, typer.Argument(metavar="ID")],
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Revoke a bootstrap token: a registration with it is refused from now on."""

    async def work(api: PlatformApi) -> None:
        token = await api.revoke_token(token_id)
        out.print(f"token {token.id} revoked at {_when(token.revoked_at)}")

    _run(api_url, api_key, work)
