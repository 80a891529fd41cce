"""Records the scenarios' histories for the replay test: `python -m tests.replay.record`.

Run it when a workflow change is released (after guarding the change with workflow.patched), and
keep the old files: each one proves the new code still replays what the old code did.
"""

import asyncio
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.search_attributes import ALL as SEARCH_ATTRIBUTES
from tests.replay.scenarios import SCENARIOS

HISTORIES = Path(__file__).parent / "histories"
BIN = Path(sys.executable).parent


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    async with env:
        for name, scenario in SCENARIOS.items():
            for workflow_id in await scenario(env.client):
                await _record_runs(env.client, name, workflow_id)


async def _record_runs(client: Client, scenario: str, workflow_id: str) -> None:
    """Every run of the workflow, following continue-as-new from the first."""
    description = await client.get_workflow_handle(workflow_id).describe()
    run_id: str | None = description.raw_description.workflow_execution_info.first_run_id
    run = 1
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        path = HISTORIES / f"{scenario}--{workflow_id.replace(':', '-')}--run{run}.json"
        path.write_text(history.to_json())
        print(f"recorded {path.name}")
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id or None
        run += 1


if __name__ == "__main__":
    asyncio.run(main())
