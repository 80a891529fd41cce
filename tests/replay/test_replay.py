"""Every recorded history replays against today's workflow code: a change to a workflow's
commands that is not guarded by workflow.patched fails here, before it breaks running routings.

histories/VERSION/ holds what each released version recorded (tests/replay/record.py), never
re-recorded; histories/unpatched/PATCH/ what the code before PATCH did, which replays only
because the guard sends it down the old path."""

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.replay.scenarios import PATCHED, SCENARIOS
from workflows.routing import CANCEL_ANSWERS_PROMPTLY, CANCEL_IS_NOT_A_FAILURE, RoutingWorkflow
from workflows.service_job import ServiceJobWorkflow

ROOT = Path(__file__).parent / "histories"
# Guards whose two branches send the same commands (replay cannot tell them apart): each is
# tested live both ways in test_requests.
SAME_COMMANDS = (CANCEL_ANSWERS_PROMPTLY, CANCEL_IS_NOT_A_FAILURE)
HISTORIES = {str(path.relative_to(ROOT).with_suffix("")): path for path in sorted(ROOT.rglob("*.json"))}


def _replayer() -> Replayer:
    return Replayer(workflows=[ServiceJobWorkflow, RoutingWorkflow], data_converter=pydantic_data_converter)


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


# Without its guard, cancel_while_booking as recorded before it still replays: the SDK does not
# flag the 5 s timer the new branch adds there. The branch itself is proven live
# (tests/replay/test_requests.py::test_a_cancel_answers_within_its_patience_only_when_patched).


def test_histories_are_recorded():
    # None may silently vanish: the first version's eight, every scenario in the latest version,
    # every patch's.
    assert sum(name.startswith("v1/") for name in HISTORIES) == 8
    latest = max((p.name for p in ROOT.glob("v*")), key=lambda version: int(version[1:]))
    for scenario in SCENARIOS:
        assert any(name.startswith(f"{latest}/{scenario}--") for name in HISTORIES), scenario
    for patch in PATCHED:
        assert any(name.startswith(f"unpatched/{patch}/") for name in HISTORIES), patch


@pytest.mark.parametrize("name", HISTORIES)
async def test_replays(name: str):
    await _replayer().replay_workflow(_history(HISTORIES[name]))


@pytest.mark.parametrize("patch", [patch for patch in PATCHED if patch not in SAME_COMMANDS])
async def test_each_patch_guard_is_needed(patch: str, monkeypatch: pytest.MonkeyPatch):
    """With the guard removed (the new path taken unconditionally), what the code before the
    patch recorded no longer replays."""
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id == patch or patched(patch_id))
    histories = [_history(path) for name, path in HISTORIES.items() if name.startswith(f"unpatched/{patch}/")]
    failures = [
        (await _replayer().replay_workflow(history, raise_on_replay_failure=False)).replay_failure
        for history in histories
    ]
    # Nondeterminism shows as NondeterminismError, or as a fatal error in the SDK's state machines.
    assert any(failure is not None for failure in failures)
