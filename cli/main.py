"""The `tempoline` command."""

import asyncio

import typer

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
def emulators(host: str = "127.0.0.1", port: int = 8400, grpc_port: int = 8401) -> None:
    """Run the provider emulators (ServiceTitan, Google, OpenAI, Anthropic) with their control API."""
    from emulators.__main__ import main

    main(["--host", host, "--port", str(port), "--grpc-port", str(grpc_port)])


@app.command()
def worker(queues: str = typer.Option("", help="comma-separated contexts or task queues")) -> None:
    """Run Temporal workers (same as `python worker.py`)."""
    import worker as worker_module

    asyncio.run(worker_module.main(["--queues", queues]))


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
