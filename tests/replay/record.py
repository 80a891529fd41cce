"""Records the scenarios' histories for the replay test: `python -m tests.replay.record VERSION`.

Run it when a workflow change is released (the change guarded by workflow.patched), naming a new
VERSION. histories/VERSION/ is written once and never overwritten: each version's files keep
proving that today's code replays what that version's code did. Each scenario a patch changes is
also recorded with that patch off, as the code before the patch ran it, under
histories/unpatched/PATCH/ (once per patch): the replay test shows the guard is needed.
"""

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.search_attributes import ALL as SEARCH_ATTRIBUTES
from tests.conftest import register_search_attributes
from tests.replay.scenarios import PATCHED, SCENARIOS

HISTORIES = Path(__file__).parent / "histories"
BIN = Path(sys.executable).parent


@contextmanager
def patch_off(patch: str) -> Iterator[None]:
    """Workflows run as they did before `patch`: workflow.patched(patch) is False, no marker."""
    patched = workflow.patched
    workflow.patched = lambda patch_id: False if patch_id == patch else patched(patch_id)  # type: ignore[assignment]
    try:
        yield
    finally:
        workflow.patched = patched  # type: ignore[assignment]


async def main(version: str) -> None:
    target = HISTORIES / version
    if target.exists():
        print(f"{target.relative_to(HISTORIES)} exists: recorded histories are never overwritten")
    local = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    skipping = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(skipping.client)
    async with local, skipping:

        async def record(name: str, folder: Path) -> None:
            scenario = SCENARIOS[name]
            client = (skipping if scenario.time_skipping else local).client
            for workflow_id in await scenario.run(client):
                await _record_runs(client, folder, name, workflow_id)

        if not target.exists():
            for name in SCENARIOS:
                await record(name, target)
        for patch, names in PATCHED.items():
            folder = HISTORIES / "unpatched" / patch
            if folder.exists():
                continue
            with patch_off(patch):
                for name in names:
                    await record(name, folder)


async def _record_runs(client: Client, folder: Path, scenario: str, workflow_id: str) -> None:
    """Every run of the workflow, following continue-as-new from the first."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a one-off script)
    description = await client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = description.raw_description.workflow_execution_info.first_run_id
    run = 1
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        path = folder / f"{scenario}--{workflow_id.replace(':', '-')}--run{run}.json"
        path.write_text(history.to_json())
        print(f"recorded {path.relative_to(HISTORIES)}")
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id or None
        run += 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.replay.record VERSION   (e.g. v3)")
    asyncio.run(main(sys.argv[1]))
