"""`job run` and `schedule create` take the job spec's options from one definition."""

import inspect
from typing import Any

from typer.core import TyperGroup
from typer.main import get_command

from cli.job_spec_options import job_spec
from cli.main import app


def _command(group: str, name: str) -> Any:
    root = get_command(app)
    assert isinstance(root, TyperGroup)
    sub = root.commands[group]
    assert isinstance(sub, TyperGroup)
    return sub.commands[name]


def _spec_params(command: Any) -> dict[str, tuple[object, ...]]:
    names = set(inspect.signature(job_spec).parameters)
    return {
        p.name: (p.opts, p.multiple, p.required, getattr(p, "help", None))
        for p in command.params
        if p.name in names
    }


def test_job_run_and_schedule_create_take_the_same_job_options():
    run, create = _command("job", "run"), _command("schedule", "create")
    assert _spec_params(run) == _spec_params(create)
    assert set(_spec_params(run)) == set(inspect.signature(job_spec).parameters)
    # Each keeps its own options besides.
    assert {"follow"} <= {p.name for p in run.params} - {p.name for p in create.params}
    assert {"cron", "every", "timezone", "overlap", "catchup_window", "paused"} <= {
        p.name for p in create.params
    } - {p.name for p in run.params}
