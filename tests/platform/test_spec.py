"""Bad input: each rule of the job spec refuses with the field at fault."""

import pytest
from pydantic import ValidationError

from domain.platform.spec import MAX_ENV_BYTES, Backoff, EnvValue, JobSpec


def spec(**fields: object) -> JobSpec:
    return JobSpec.model_validate({"name": "job", "command": ["echo", "hi"], **fields})


def refused(fields: dict[str, object]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate({"name": "job", **fields})
    return [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"command": []}, "command"),
        ({"command": [""]}, "command"),
        ({"script": "   "}, "script"),
        ({"command": ["true"], "run_timeout_seconds": -1}, "run_timeout_seconds"),
        ({"command": ["true"], "run_timeout_seconds": 0}, "run_timeout_seconds"),
        ({"command": ["true"], "run_timeout_seconds": 10**9}, "run_timeout_seconds"),
        ({"command": ["true"], "queue_timeout_seconds": -5}, "queue_timeout_seconds"),
        ({"command": ["true"], "queue_timeout_seconds": 10**9}, "queue_timeout_seconds"),
        ({"command": ["true"], "grace_seconds": -1}, "grace_seconds"),
        ({"command": ["true"], "priority": 10}, "priority"),
        ({"command": ["true"], "priority": -1}, "priority"),
        ({"command": ["true"], "strategy": "random"}, "strategy"),
        ({"command": ["true"], "concurrency": {"key": "c", "limit": 0}}, "concurrency.limit"),
        ({"command": ["true"], "max_attempts": 0}, "max_attempts"),
        ({"command": ["true"], "env": {"1BAD": "x"}}, "env.1BAD.[key]"),
        ({"command": ["true"], "env": {"BIG": "x" * MAX_ENV_BYTES}}, "env"),
        ({"command": ["true"], "worker_type": "GPU!"}, "worker_type"),
    ],
)
def test_bad_input_names_its_field(fields: dict[str, object], field: str) -> None:
    assert field in refused(fields)


def test_both_or_neither_command_and_script_refused() -> None:
    with pytest.raises(ValidationError, match="both were given"):
        JobSpec(name="j", command=["true"], script="true")
    with pytest.raises(ValidationError, match="neither was given"):
        JobSpec(name="j")


def test_env_counts_every_value_towards_its_limit() -> None:
    half = "x" * (MAX_ENV_BYTES // 2)
    with pytest.raises(ValidationError, match="bytes"):
        spec(env={"A": half, "B": EnvValue(value=half, secret=True)})


def test_secret_values_are_known_by_name_and_given_in_plaintext_to_the_executor() -> None:
    job = spec(env={"PLAIN": "1", "TOKEN": {"value": "s3cret", "secret": True}})
    assert job.secret_names() == ["TOKEN"]
    assert job.plain_env() == {"PLAIN": "1", "TOKEN": "s3cret"}


def test_defaults() -> None:
    job = spec(capabilities=["b", "a", "b"])
    assert job.strategy is None  # the tenant's default
    assert job.capabilities == ["a", "b"]
    assert 0 <= job.priority <= 9


def test_backoff_grows_to_its_maximum() -> None:
    backoff = Backoff(initial_seconds=1, coefficient=2, maximum_seconds=5)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
