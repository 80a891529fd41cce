"""Where a pipeline's CPU goes: py-spy samples of worker processes, PostgreSQL's statement
counts (pg_stat_statements) and Temporal history events per job.

Used by `python -m bench.routing ... profile` (and bench.platform's, bench.interviews');
docs/benchmarks.md records what it found.
"""

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from temporalio.client import Client

PY_SPY = Path(sys.executable).parent / "py-spy"
SAMPLE_RATE = 200
# First match wins, searched from the innermost frame outwards: a sample is charged to the
# most specific thing it was doing (a psycopg call inside an activity is "store").
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("encryption (codec)", ("core/codec.py", "cryptography/")),
    ("pydantic validation/serialization", ("pydantic/", "pydantic_core")),
    ("payload conversion", ("temporalio/converter.py", "google/protobuf/", "_payload_visitor")),
    ("store (SQLAlchemy, psycopg)", ("sqlalchemy/", "psycopg/", "psycopg_pool/", "store/")),
    ("HTTP to the provider (httpx)", ("httpx/", "httpcore/", "h11/", "clients/servicetitan.py")),
    ("provider SDKs (openai, anthropic)", ("openai/", "anthropic/")),
    ("audio decoding and FLAC (PyAV)", ("av/", "clients/audio.py")),
    ("logging", ("logging/", "core/logging.py")),
    ("sandbox: module loading and restrictions", ("workflow_sandbox/", "importlib", "<frozen importlib")),
    ("workflow activation (SDK)", ("temporalio/worker/_workflow_instance.py", "temporalio/workflow.py")),
    ("workflow task handling (SDK)", ("temporalio/worker/_workflow.py",)),
    ("activity handling (SDK)", ("temporalio/worker/_activity.py", "temporalio/activity.py")),
    ("our workflows and activities", ("workflows/", "activities/", "domain/")),
    ("SDK core bridge (Rust, gRPC)", ("temporalio/bridge/", "temporalio/service.py")),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
]


def _record(pid: int, file: Path) -> subprocess.Popen[bytes]:
    file.parent.mkdir(parents=True, exist_ok=True)
    rate = str(SAMPLE_RATE)
    argv = [str(PY_SPY), "record", "--pid", str(pid), "--rate", rate, "--format", "raw", "--gil"]
    quiet = subprocess.DEVNULL
    return subprocess.Popen([*argv, "--output", str(file)], stdout=quiet, stderr=quiet)


@asynccontextmanager
async def sampling(pids: Iterable[int], out_dir: Path) -> AsyncIterator[list[Path]]:
    """py-spy records each pid until the block ends: collapsed stacks of the thread holding the
    GIL, so a sample is Python running, never a thread waiting."""
    files = [out_dir / f"worker-{pid}.txt" for pid in pids]
    recorders = [await asyncio.to_thread(_record, pid, file) for pid, file in zip(pids, files, strict=True)]
    try:
        yield files
    finally:
        for recorder in recorders:
            recorder.send_signal(2)  # SIGINT: py-spy writes its output and exits
        await asyncio.gather(*(asyncio.to_thread(r.wait, 30) for r in recorders))


def categorize(files: Iterable[Path]) -> tuple[Counter[str], int]:
    """Samples per category over the collapsed-stack files, and the total."""
    shares: Counter[str] = Counter()
    total = 0
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            frames = stack.split(";")
            shares[_category(frames)] += int(count)
    return shares, total


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, patterns in CATEGORIES:
            if any(p in frame for p in patterns):
                return name
    return "other"


def report_samples(files: list[Path], cpu_seconds: float, jobs: int) -> None:
    """Each sample stands for 1/SAMPLE_RATE s of Python holding the GIL; the rest of the
    workers' CPU ran outside it (the SDK's Rust core threads, C code that released the GIL)."""
    shares, total = categorize(files)
    if not total:
        print("py-spy: no samples (is ptrace allowed?)")
        return
    per_job = 1e3 / SAMPLE_RATE / jobs
    print(f"worker CPU per job {cpu_seconds / jobs * 1e3:.1f} ms, by what it ran (py-spy, {total} samples):")
    for name, count in shares.most_common():
        print(f"  {name:45s} {count * per_job:6.2f} ms  {count / total:6.1%} of Python")
    outside = cpu_seconds / jobs * 1e3 - total * per_job
    print(f"  {'outside Python (SDK core threads, no GIL)':45s} {outside:6.2f} ms")


async def reset_statements(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        await db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await db.execute("SELECT pg_stat_statements_reset()")


async def report_statements(database_url: str, jobs: int, top: int = 12) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        rows = await (
            await db.execute(
                "SELECT calls, total_exec_time, query FROM pg_stat_statements "
                "WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC"
            )
        ).fetchall()
    calls = sum(r[0] for r in rows)
    print(f"PostgreSQL: {calls / jobs:.1f} statements per job, the most frequent:")
    for count, ms, query in rows[:top]:
        text = " ".join(query.split())[:110]
        print(f"  {count / jobs:5.2f}/job {ms / max(count, 1):6.3f} ms  {text}")


async def history_events(client: Client, workflow_ids: Iterable[str]) -> Counter[str]:
    """Events by type over the given workflows' histories (as far as they go now)."""
    events: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events.update(e.WhichOneof("attributes") or "?" for e in history.events)
    return events
