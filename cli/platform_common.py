"""What every `tempoline job|worker|token|schedule|calendars` command shares: where the API is and who
calls it, how a refusal becomes a message and an exit code, and how answers are printed.

Exit codes: 0 done; 1 the API refused (its problem+json title and detail are printed) or could
not be reached (the URL tried is printed); 2 bad input, whether the command line's (click's own
usage errors) or the request's (the API's 422, each field and reason): either way the fix is in
what was typed.
"""

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.paging import Page
from cli.api_client import ApiClient
from cli.platform_api import PlatformApi
from clients.tempoline_api import ApiError, TempolineApi
from core.settings import get_settings
from domain.platform.status import JobStatus

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound=ApiClient)

# Piped (no terminal, no COLUMNS), rich would fold every table into 80 columns: a row stays one
# line instead, so `tempoline job list | grep FAILED` finds whole rows.
out = Console(highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 1000)
# Messages are not wrapped: a reason split over lines is harder to read and to grep.
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
IdempotencyKey = Annotated[
    str | None, typer.Option(help="The same key again returns what the first request created")
]


@contextlib.asynccontextmanager
async def connect(api_url: str | None, api_key: str | None, client: type[C]) -> AsyncIterator[C]:
    settings = get_settings()
    key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not key:
        raise typer.BadParameter("pass --api-key or set TEMPOLINE_API_KEY", param_hint="--api-key")
    # A refused connection is retried by httpx (2 more tries, backoff from 0.5 s): nothing was sent.
    async with TempolineApi.http_client(api_url or settings.api_url, connect_retries=2, timeout=60.0) as http:
        yield client(http, key)


def call_client(
    api_url: str | None,
    api_key: str | None,
    client: type[C],
    work: Callable[[C], Coroutine[Any, Any, int | None]],
) -> None:
    """Runs `work` against the part of the API `client` calls; an ApiError becomes its message
    and exit code."""

    async def session() -> int | None:
        async with connect(api_url, api_key, client) as api:
            return await work(api)

    try:
        code = asyncio.run(session())
    except ApiError as exc:
        raise failed(exc) from None
    if code:
        raise typer.Exit(code)


def call_api(
    api_url: str | None, api_key: str | None, work: Callable[[PlatformApi], Coroutine[Any, Any, int | None]]
) -> None:
    """Runs `work` against /api/platform."""
    call_client(api_url, api_key, PlatformApi, work)


def failed(exc: ApiError) -> Exception:
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


def print_json(model: BaseModel) -> None:
    # Plain print: rich would wrap long lines and colour them.
    print(model.model_dump_json(indent=2))


def pairs(values: list[str], option: str) -> dict[str, str]:
    found = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not eq:
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        found[key] = value
    return found


def when(at: datetime | None, zone: str | None = None) -> str:
    """This machine's local time; in `zone` (an IANA name), that zone's time with its name."""
    if at is None:
        return ""
    if zone is None:
        return at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def table_of(*headers: str, title: str | None = None) -> Table:
    """Columns fold rather than cut (an id cut short is of no use), ids on one line."""
    made = Table(box=None, title=title, title_justify="left")
    for header in headers:
        whole = header in ("ID", "WORKER", "JOB")
        made.add_column(header, no_wrap=whole, min_width=36 if whole else None, overflow="fold")
    return made


def print_page(
    page: Page[M], as_json: bool, headers: tuple[str, ...], row: Callable[[M], Sequence[str]]
) -> None:
    """A page of a list: the API's JSON, or a table of a `row` an item and, on stderr, the cursor
    of the next page if there is one."""
    if as_json:
        return print_json(page)
    rows = table_of(*headers)
    for item in page.items:
        rows.add_row(*row(item))
    out.print(rows)
    if page.next_cursor:
        err.print(f"[dim]more: --cursor {page.next_cursor}[/]")


STATUS_STYLE = {
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "red",
    JobStatus.TIMED_OUT: "red",
    JobStatus.CANCELLED: "yellow",
    JobStatus.RUNNING: "cyan",
}


def styled(value: JobStatus) -> str:
    """A job status, coloured by how it ended."""
    style = STATUS_STYLE.get(value)
    return f"[{style}]{value.value}[/]" if style else value.value
