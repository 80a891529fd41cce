"""The `tempoline` command."""

import asyncio

import typer

from cli import interviews, platform, platform_schedules, scheduling
from cli.dev import StackError, console

app = typer.Typer(
    help="tempoline: durable business pipelines on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def dev() -> None:
    """Run the whole stack in the foreground on embedded defaults (Ctrl-C stops it)."""
    from cli import dev as stack

    try:
        raise typer.Exit(stack.run())
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Apply database migrations to DATABASE_URL."""
    from core.settings import get_settings
    from store.migrate import upgrade

    url = get_settings().database_url
    if not url:
        console.print("[red]error:[/] DATABASE_URL is not set")
        raise typer.Exit(1)
    upgrade(url)
    console.print("migrations applied")


@app.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="the findings as JSON, for scripts"),
) -> None:
    """Check this deployment (configuration, PostgreSQL, Temporal, workers, pipelines, providers,
    codec) and say what to fix; exits 1 when something is wrong."""
    from cli import doctor as checks

    raise typer.Exit(checks.run(as_json))


@app.command()
def emulators(host: str = "127.0.0.1", port: int = 8400, grpc_port: int = 8401) -> None:
    """Run the provider emulators (ServiceTitan, Google, OpenAI, Anthropic) with their control API."""
    from emulators.__main__ import main

    main(["--host", host, "--port", str(port), "--grpc-port", str(grpc_port)])


@platform.worker_app.callback(invoke_without_command=True)
def worker(
    ctx: typer.Context, queues: str = typer.Option("", help="comma-separated contexts or task queues")
) -> None:
    """Run Temporal workers (same as `python worker.py`); `tempoline worker list` lists the
    platform's executor workers instead."""
    if ctx.invoked_subcommand is not None:
        return
    import worker as worker_module

    asyncio.run(worker_module.main(["--queues", queues]))


app.add_typer(platform.job_app, name="job")
app.add_typer(platform.worker_app, name="worker")
app.add_typer(platform.token_app, name="token")
app.add_typer(platform_schedules.schedule_app, name="schedule")
app.command()(scheduling.calendars)
app.add_typer(interviews.interview_app, name="interview")


@app.command()
def executor(
    worker_type: str = typer.Option(..., help="the type of jobs this executor runs, e.g. shell or gpu"),
    capability: list[str] = typer.Option([], help="a capability jobs may require (repeatable)"),
    slots: int = typer.Option(1, min=1, max=1024, help="jobs run at once"),
    cpu_millis: int | None = typer.Option(
        None, min=1, help="CPU offered, in millicores (default: all cores)"
    ),
    memory_mb: int | None = typer.Option(None, min=1, help="memory offered, in MB (default: all of it)"),
    bootstrap_token: str | None = typer.Option(
        None, help="the one-time registration token (default: TEMPOLINE_BOOTSTRAP_TOKEN)", show_default=False
    ),
    drain_timeout: float = typer.Option(
        3600.0, min=0, help="on SIGTERM, seconds running jobs get to finish before they are stopped"
    ),
) -> None:
    """Run platform jobs on this host: register with the API, then serve this executor's task queue
    (SIGTERM drains: running jobs finish, no new ones start, then it deregisters and exits)."""
    import os
    from datetime import timedelta

    import psutil

    from cli import executor as executor_process
    from clients.tempoline_api import ApiError
    from core import logging
    from core.settings import get_settings

    settings = get_settings()
    token = bootstrap_token or (
        settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
    )
    if not token:
        raise typer.BadParameter(
            "pass --bootstrap-token or set TEMPOLINE_BOOTSTRAP_TOKEN", param_hint="--bootstrap-token"
        )
    for name, value in [("--worker-type", worker_type), *(("--capability", c) for c in capability)]:
        if not value.strip() or value != value.strip():
            raise typer.BadParameter(f"{value!r} is empty or has surrounding spaces", param_hint=name)
    options = executor_process.ExecutorOptions(
        worker_type=worker_type,
        capabilities=capability,
        slots=slots,
        cpu_millis=cpu_millis or (os.cpu_count() or 1) * 1000,
        memory_mb=memory_mb or psutil.virtual_memory().total // 2**20,
        bootstrap_token=token,
        drain_timeout=timedelta(seconds=drain_timeout),
    )
    logging.configure("executor", settings.log_level)
    try:
        asyncio.run(executor_process.run(settings, options))
    except (ApiError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def temporal(ctx: typer.Context) -> None:
    """The Temporal CLI of this environment, with this stack's address, namespace and codec set."""
    from cli.dev import venv_binary
    from cli.temporal import exec_cli

    try:
        exec_cli(venv_binary("temporal"), ctx.args)
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def keygen() -> None:
    """Print a new TEMPOLINE_ENCRYPTION_KEY."""
    from core.crypto import generate_key

    typer.echo(generate_key())
