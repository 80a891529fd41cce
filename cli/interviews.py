"""`tempoline interview upload INTERVIEW_ID FILE`: a recording streamed to the API with a progress
bar (on a terminal), then what the API's probe found in it."""

import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from cli.interviews_api import InterviewsApi
from cli.platform_common import ApiKey, ApiUrl, AsJson, call_client, err, out

interview_app = typer.Typer(help="Interviews: upload recordings", no_args_is_help=True)


@interview_app.command()
def upload(
    interview_id: Annotated[
        uuid.UUID, typer.Argument(metavar="INTERVIEW_ID", help="The interview's id", show_default=False)
    ],
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="WAV, FLAC, MP3, M4A, Ogg or WebM audio"
        ),
    ],
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Upload a recording of an interview (the same file again is the recording already there)."""

    size = file.stat().st_size

    async def work(api: InterviewsApi) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task(file.name, total=size)
            recording, created = await api.upload(
                interview_id, reader, size, lambda sent: progress.advance(task, sent)
            )
        if as_json:
            print(recording.model_dump_json(indent=2))
            return
        found = recording.format
        said = "uploaded" if created else "already uploaded"
        out.print(
            f"{said} {recording.id}: {found.container} {found.codec}, {found.duration_seconds:.1f} s, "
            f"{found.channels} ch, {found.sample_rate} Hz, {recording.size_bytes} bytes"
        )

    with file.open("rb") as reader:
        call_client(api_url, api_key, InterviewsApi, work)
