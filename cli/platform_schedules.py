"""`tempoline schedule ...`: cron schedules of platform jobs through the API
(api/routers/platform/schedules.py), each a Temporal Schedule that starts a job at every time of
a cron expression or every interval.

`schedule create` takes the job's options as `job run` does (cli/job_spec_options.py), plus when:
`--cron` or `--every`. Output and exit codes as cli/platform_common.py says.
"""

import asyncio
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from api.routers.platform.schedules import ScheduleOut, ScheduleRunOut, ScheduleSummary
from cli.durations import format_duration, parse_duration
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
from clients.tempoline_api import ApiError
from domain.platform.schedules import Overlap
from domain.platform.status import JobStatus

schedule_app = typer.Typer(
    help="Cron schedules: a platform job at every time of a cron expression, or every interval.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

ScheduleId = Annotated[uuid.UUID, typer.Argument(metavar="ID", help="The schedule's id")]
OverlapOption = Annotated[
    Overlap | None,
    typer.Option(help="When the previous run's job has not ended (default: the schedule's policy)"),
]
NoteOption = Annotated[str, typer.Option(help="Why (shown by `schedule show`)")]


def _timing(schedule: ScheduleSummary) -> str:
    if schedule.cron is not None:
        return f"cron {escape(schedule.cron)} ({schedule.timezone})"
    return f"every {format_duration(schedule.interval_seconds or 0)}"


def _state(schedule: ScheduleSummary) -> str:
    return "[yellow]paused[/]" if schedule.paused else "[green]active[/]"


def _at(schedule: ScheduleSummary, at: datetime) -> str:
    """A time of the schedule's, in its time zone (the one its cron is read in)."""
    return when(at, schedule.timezone)


def _next_run(schedule: ScheduleSummary) -> str:
    return _at(schedule, schedule.next_runs[0]) if schedule.next_runs else ""


def _said(schedule: ScheduleOut, what: str) -> None:
    """One line on stdout: the schedule, what happened, and its next run if it is active."""
    then = f", next run {_next_run(schedule)}" if not schedule.paused and schedule.next_runs else ""
    out.print(f"schedule {schedule.id} {what}{then}")


def _moment(text: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset, this machine's local time (as the CLI prints times)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2025-01-31 or 2025-01-31T09:00:00+01:00)",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo else moment.astimezone()


@schedule_app.command(
    "create", cls=JobSpecCommand, short_help="Run a job at every time of --cron, or --every interval."
)
@with_job_spec
def create(
    *,
    cron: Annotated[
        str | None,
        typer.Option(
            help="minute hour day-of-month month day-of-week (e.g. '0 9 * * MON-FRI'), or @hourly,"
            " @daily, @weekly, @monthly, @yearly"
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="Instead of --cron: every 30s, 5m, 1h30m, 2d ..."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="The IANA time zone --cron is read in (API: UTC)")
    ] = None,
    overlap: Annotated[
        Overlap | None, typer.Option(help="When the previous run's job has not ended (API: skip)")
    ] = None,
    catchup_window: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION",
            help="Runs missed while Temporal was down are made up if this recent (API: 5m)",
        ),
    ] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Created paused: no runs until resumed")] = False,
    note: Annotated[str | None, typer.Option(help="What it is for (shown by `schedule show`)")] = None,
    spec: dict[str, Any],  # the job spec's options stand here (see with_job_spec)
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Create a schedule that runs a job, given as to `job run`, e.g. `tempoline schedule create
    --cron '0 9 * * MON-FRI' --timezone Europe/Berlin --name report --command ./report.sh` or
    `--every 5m`; prints its id (or --json)."""
    body = dict(spec)
    optional = {
        "cron": cron,
        "interval_seconds": None if every is None else parse_duration(every, "--every"),
        "timezone": timezone,
        "overlap": overlap,
        "catchup_window_seconds": None
        if catchup_window is None
        else parse_duration(catchup_window, "--catchup-window"),
        "note": note,
    }
    body |= {k: v for k, v in optional.items() if v is not None}
    if paused:
        body["paused"] = True

    async def work(api: PlatformApi) -> None:
        schedule = await api.create_schedule(body, idempotency_key)
        if as_json:
            return print_json(schedule)
        print(schedule.id)
        then = "paused" if schedule.paused else f"next run {_next_run(schedule)}"
        err.print(f"schedule {schedule.id} ({escape(schedule.name)}): {_timing(schedule)}, {then}")

    call_api(api_url, api_key, work)


@schedule_app.command("list")
def list_schedules(
    limit: Limit = None,
    cursor: Cursor = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The tenant's schedules, oldest first (--cursor pages on)."""

    async def work(api: PlatformApi) -> None:
        page = await api.list_schedules(limit=limit, cursor=cursor)
        print_page(
            page,
            as_json,
            ("ID", "NAME", "WHEN", "OVERLAP", "STATE", "NEXT RUN"),
            lambda s: (str(s.id), escape(s.name), _timing(s), s.overlap.value, _state(s), _next_run(s)),
        )

    call_api(api_url, api_key, work)


async def _job_statuses(api: PlatformApi, runs: list[ScheduleRunOut]) -> list[str]:
    """Each run's job status; none yet for a run whose job the API does not know yet (its
    starter workflow has not created it)."""

    async def status_of(job_id: uuid.UUID) -> str:
        try:
            return styled((await api.get_job(job_id)).status)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return ""

    return list(await asyncio.gather(*(status_of(r.job_id) for r in runs)))


@schedule_app.command("show")
def show(
    schedule_id: ScheduleId, as_json: AsJson = False, api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """A schedule: when it runs, its state, the job it starts, its next runs and its recent runs
    with each job's status."""

    async def work(api: PlatformApi) -> None:
        schedule = await api.get_schedule(schedule_id)
        if as_json:
            return print_json(schedule)
        spec = schedule.spec
        program = spec.get("command") or spec.get("script")
        about = Table.grid(padding=(0, 2))
        rows = [
            ("id", str(schedule.id)),
            ("name", escape(schedule.name)),
            ("state", _state(schedule) + (f" ({escape(schedule.note)})" if schedule.note else "")),
            ("when", _timing(schedule)),
            ("overlap", schedule.overlap.value),
            ("catch-up window", format_duration(schedule.catchup_window_seconds)),
            ("command" if spec.get("command") else "script", escape(json.dumps(program))),
            ("worker type", str(spec.get("worker_type", ""))),
            ("priority", str(spec.get("priority", ""))),
            ("labels", escape(", ".join(f"{k}={v}" for k, v in spec.get("labels", {}).items()))),
            (
                "runs",
                f"{schedule.runs} started, {schedule.skipped_overlap} skipped (overlap),"
                f" {schedule.missed_catchup_window} missed (catch-up window)",
            ),
            ("created", _at(schedule, schedule.created_at)),
            ("correlation id", schedule.correlation_id),
        ]
        for key, value in rows:
            if value:
                about.add_row(f"[bold]{key}[/]", value)
        out.print(about)
        upcoming = table_of("AT", title="next runs" + (" (once resumed)" if schedule.paused else ""))
        for at in schedule.next_runs:
            upcoming.add_row(_at(schedule, at))
        out.print(upcoming)
        if not schedule.recent_runs:
            out.print("[bold]recent runs[/]: none yet")
            return None
        recent = table_of("SCHEDULED", "STARTED", "JOB", "STATUS", title="recent runs")
        running = set(schedule.running_jobs)
        statuses = await _job_statuses(api, schedule.recent_runs)
        for run, status in zip(schedule.recent_runs, statuses, strict=True):
            recent.add_row(
                _at(schedule, run.scheduled_at),
                _at(schedule, run.started_at),
                str(run.job_id),
                status or (styled(JobStatus.RUNNING) if run.job_id in running else ""),
            )
        out.print(recent)

    call_api(api_url, api_key, work)


@schedule_app.command("pause")
def pause(
    schedule_id: ScheduleId, note: NoteOption = "", api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """No new runs until resumed; jobs already started go on."""

    async def work(api: PlatformApi) -> None:
        _said(await api.act_on_schedule(schedule_id, "pause", {"note": note}), "paused")

    call_api(api_url, api_key, work)


@schedule_app.command("resume")
def resume(
    schedule_id: ScheduleId, note: NoteOption = "", api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """Runs start again at the schedule's next times."""

    async def work(api: PlatformApi) -> None:
        _said(await api.act_on_schedule(schedule_id, "resume", {"note": note}), "resumed")

    call_api(api_url, api_key, work)


@schedule_app.command("trigger")
def trigger(
    schedule_id: ScheduleId, overlap: OverlapOption = None, api_url: ApiUrl = None, api_key: ApiKey = None
) -> None:
    """One run now, paused or not (subject to the overlap policy); `schedule show` lists its job."""

    async def work(api: PlatformApi) -> None:
        body = {"overlap": overlap.value} if overlap else None
        _said(await api.act_on_schedule(schedule_id, "trigger", body), "triggered: a run starts now")

    call_api(api_url, api_key, work)


@schedule_app.command("backfill")
def backfill(
    schedule_id: ScheduleId,
    start: Annotated[
        str, typer.Option(metavar="TIME", help="ISO 8601, e.g. 2025-01-31T09:00:00+01:00 (no offset: local)")
    ],
    end: Annotated[str, typer.Option(metavar="TIME", help="ISO 8601, after --start")],
    overlap: OverlapOption = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """A run for every time between --start and --end at which the schedule would have started
    one (paused or not)."""
    body: dict[str, Any] = {
        "start_at": _moment(start, "--start").isoformat(),
        "end_at": _moment(end, "--end").isoformat(),
    }
    if overlap:
        body["overlap"] = overlap.value

    async def work(api: PlatformApi) -> None:
        schedule = await api.act_on_schedule(schedule_id, "backfill", body)
        _said(schedule, f"backfilling from {body['start_at']} to {body['end_at']}")

    call_api(api_url, api_key, work)


@schedule_app.command("delete")
def delete(schedule_id: ScheduleId, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """No more runs, and the schedule is gone; jobs it started go on."""

    async def work(api: PlatformApi) -> None:
        await api.delete_schedule(schedule_id)
        out.print(f"schedule {schedule_id} deleted")

    call_api(api_url, api_key, work)
