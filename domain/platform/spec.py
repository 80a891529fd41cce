"""The job spec: what a caller asks to run, and every rule a bad request breaks (each a 422
naming its field)."""

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from domain.platform.base import PlatformModel

# Worker types, capabilities and label keys: short identifiers, as the CLI and queries spell them.
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]

# Limits past which a request is a mistake, not a job: a week's run, a month's wait.
MAX_RUN_TIMEOUT_SECONDS = 7 * 24 * 3600.0
MAX_QUEUE_TIMEOUT_SECONDS = 30 * 24 * 3600.0
MAX_GRACE_SECONDS = 300.0
MAX_ATTEMPTS = 20
# The env travels to the executor in one response and lives in the job row: 64 KiB in all.
MAX_ENV_BYTES = 64 * 1024
MAX_ENV_ENTRIES = 256
MAX_ARGV_BYTES = 128 * 1024
MAX_SCRIPT_BYTES = 256 * 1024


class Strategy(StrEnum):
    """How a worker is chosen among those that fit."""

    LEAST_LOADED = "least-loaded"
    ROUND_ROBIN = "round-robin"
    BIN_PACKING = "bin-packing"


class EnvValue(PlatformModel):
    value: str = Field(max_length=MAX_ENV_BYTES)
    # A secret is sealed at rest, handed only to the executor running the job, never shown back.
    secret: bool = False


class Backoff(PlatformModel):
    """The wait before attempt n+1: initial * coefficient^(n-1), at most `maximum_seconds`."""

    initial_seconds: float = Field(5.0, gt=0, le=3600)
    coefficient: float = Field(2.0, ge=1, le=10)
    maximum_seconds: float = Field(300.0, gt=0, le=86400)

    def delay(self, failed_attempt: int) -> float:
        return min(self.maximum_seconds, self.initial_seconds * self.coefficient ** (failed_attempt - 1))


class Concurrency(PlatformModel):
    """At most `limit` jobs with this key run at once (per tenant); the rest wait in order."""

    key: str = Field(min_length=1, max_length=200)
    limit: int = Field(ge=1, le=10_000)


class JobSpec(PlatformModel):
    name: str = Field(min_length=1, max_length=200)
    command: list[Annotated[str, StringConstraints(max_length=MAX_ARGV_BYTES)]] | None = Field(
        None, min_length=1, max_length=4096, description="argv; exactly one of command and script"
    )
    script: str | None = Field(None, min_length=1, max_length=MAX_SCRIPT_BYTES, description="shell text")
    env: dict[EnvName, str | EnvValue] = Field(default_factory=dict, max_length=MAX_ENV_ENTRIES)
    labels: dict[Identifier, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict, max_length=50
    )
    worker_type: Identifier = "default"
    capabilities: list[Identifier] = Field(default_factory=list, max_length=32)
    priority: int = Field(5, ge=0, le=9, description="0 lowest, 9 highest")
    run_timeout_seconds: float = Field(3600.0, gt=0, le=MAX_RUN_TIMEOUT_SECONDS)
    queue_timeout_seconds: float = Field(3600.0, gt=0, le=MAX_QUEUE_TIMEOUT_SECONDS)
    grace_seconds: float = Field(10.0, ge=0, le=MAX_GRACE_SECONDS)
    max_attempts: int = Field(1, ge=1, le=MAX_ATTEMPTS)
    backoff: Backoff = Backoff()
    cpu_millis: int = Field(100, ge=1, le=1_000_000)
    memory_mb: int = Field(128, ge=1, le=10_000_000)
    concurrency: Concurrency | None = None
    strategy: Strategy | None = Field(
        None, description="How its worker is chosen; none: the tenant's default (least-loaded unless set)"
    )

    @field_validator("command")
    @classmethod
    def _program_named(cls, command: list[str] | None) -> list[str] | None:
        if command is not None and not command[0].strip():
            raise ValueError("the program (the first argument) must not be empty")
        return command

    @field_validator("script")
    @classmethod
    def _script_not_blank(cls, script: str | None) -> str | None:
        if script is not None and not script.strip():
            raise ValueError("the script must not be blank")
        return script

    @field_validator("capabilities")
    @classmethod
    def _sorted_capabilities(cls, capabilities: list[str]) -> list[str]:
        # One spelling everywhere (store, queries, comparisons), whatever order they came in.
        return sorted(set(capabilities))

    @field_validator("env")
    @classmethod
    def _env_size(cls, env: dict[str, str | EnvValue]) -> dict[str, str | EnvValue]:
        size = sum(len(k.encode()) + len(_value(v).encode()) for k, v in env.items())
        if size > MAX_ENV_BYTES:
            raise ValueError(f"the env is {size} bytes; at most {MAX_ENV_BYTES} are allowed")
        return env

    @model_validator(mode="after")
    def _one_program(self) -> Self:
        if (self.command is None) == (self.script is None):
            which = "both were given" if self.command is not None else "neither was given"
            raise ValueError(f"give exactly one of command and script ({which})")
        return self

    def plain_env(self) -> dict[str, str]:
        """Every env value in plaintext: what the executor gets."""
        return {name: _value(value) for name, value in self.env.items()}

    def secret_names(self) -> list[str]:
        return sorted(
            name for name, value in self.env.items() if isinstance(value, EnvValue) and value.secret
        )

    def secrets(self) -> dict[str, str]:
        """The secret env values by name (sealed at rest, never shown)."""
        return {name: self.plain_env()[name] for name in self.secret_names()}

    def public(self) -> dict[str, Any]:
        """The spec as stored and shown: each secret env value replaced by {"secret": true}."""
        body = self.model_dump(mode="json")
        # Named from the model: in the dump, every EnvValue is a dict, secret or not.
        secret = set(self.secret_names())
        body["env"] = {
            name: {"secret": True} if name in secret else value for name, value in body["env"].items()
        }
        return body

    @classmethod
    def from_public(cls, body: dict[str, Any]) -> Self:
        """A stored spec without its secret values (enough for the timings, not to run it)."""
        env = {k: v for k, v in body["env"].items() if not (isinstance(v, dict) and v.get("secret"))}
        return cls.model_validate({**body, "env": env})


def _value(value: str | EnvValue) -> str:
    return value if isinstance(value, str) else value.value
