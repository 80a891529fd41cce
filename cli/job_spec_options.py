"""The job spec on the command line: one definition of its options, shared by `job run` and
`schedule create` (each of whose runs starts such a job).

`job_spec` is that definition: its parameters are the options (typer reads them from its
signature) and its body turns what was typed into the request's spec. `with_job_spec` splices
those parameters into a command in place of the command's `spec` parameter, and calls the command
with the spec built. Only what was typed goes into the spec, so options left out take the API's
defaults, and the API alone judges the values (its 422 names the field and the reason).
"""

import functools
import inspect
import itertools
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from cli.platform_common import pairs


def job_spec(
    name: Annotated[str, typer.Option(help="The job's name")],
    program: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ARGV", help="With --command: PROGRAM [ARG]..., the argv to run", show_default=False
        ),
    ] = None,
    command: Annotated[
        bool,
        typer.Option(
            "--command",
            help="Run PROGRAM with its ARGs (no shell), given at the end of the line;"
            " put `--` before them when they have options of their own",
        ),
    ] = False,
    script: Annotated[str | None, typer.Option(help="Shell text to run instead of a command")] = None,
    worker_type: Annotated[
        str | None, typer.Option(help="The executor type to run on (API: default)")
    ] = None,
    capability: Annotated[
        list[str], typer.Option(help="A capability the worker must have (repeatable)")
    ] = [],  # noqa: B006
    label: Annotated[list[str], typer.Option(help="k=v (repeatable)")] = [],  # noqa: B006
    env: Annotated[list[str], typer.Option(help="K=V in the job's environment (repeatable)")] = [],  # noqa: B006
    secret_env: Annotated[
        list[str], typer.Option(help="K=V kept secret: sealed at rest, never shown back (repeatable)")
    ] = [],  # noqa: B006
    priority: Annotated[int | None, typer.Option(help="0 lowest to 9 highest (API: 5)")] = None,
    timeout: Annotated[float | None, typer.Option(help="Run timeout in seconds (API: 3600)")] = None,
    queue_timeout: Annotated[
        float | None, typer.Option(help="Seconds it may wait for a worker (API: 3600)")
    ] = None,
    max_attempts: Annotated[int | None, typer.Option(help="Attempts in all (API: 1)")] = None,
    cpu: Annotated[int | None, typer.Option(help="CPU request in millicores (API: 100)")] = None,
    memory: Annotated[int | None, typer.Option(help="Memory request in MB (API: 128)")] = None,
    concurrency_key: Annotated[
        str | None, typer.Option(help="At most --concurrency-limit running jobs share this key")
    ] = None,
    concurrency_limit: Annotated[int | None, typer.Option(help="See --concurrency-key")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="least-loaded (API default), round-robin or bin-packing")
    ] = None,
) -> dict[str, Any]:
    """The job spec as POST /api/platform/jobs takes it, from what was typed."""
    if program and not command:
        raise typer.BadParameter(
            f"{' '.join(program)!r}: a command to run goes after --command", param_hint="PROGRAM"
        )
    spec: dict[str, Any] = {"name": name}
    if command:
        spec["command"] = program or []
    optional = {
        "script": script,
        "worker_type": worker_type,
        "priority": priority,
        "run_timeout_seconds": timeout,
        "queue_timeout_seconds": queue_timeout,
        "max_attempts": max_attempts,
        "cpu_millis": cpu,
        "memory_mb": memory,
        "strategy": strategy,
    }
    spec |= {k: v for k, v in optional.items() if v is not None}
    if capability:
        spec["capabilities"] = capability
    if label:
        spec["labels"] = pairs(label, "--label")
    plain, secret = pairs(env, "--env"), pairs(secret_env, "--secret-env")
    if plain or secret:
        spec["env"] = plain | {k: {"value": v, "secret": True} for k, v in secret.items()}
    if concurrency_key is not None or concurrency_limit is not None:
        # Half a pair goes too: the API names the missing half.
        spec["concurrency"] = {
            k: v for k, v in {"key": concurrency_key, "limit": concurrency_limit}.items() if v is not None
        }
    return spec


_SPEC_PARAMETERS = inspect.signature(job_spec).parameters


def with_job_spec(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with the job spec's options where its `spec` parameter stands; it is called
    with `spec`, the dict `job_spec` built."""
    own = inspect.signature(command).parameters
    clash = set(own) & set(_SPEC_PARAMETERS)
    if "spec" not in own or clash:
        raise TypeError(f"{command.__name__}: needs a `spec` parameter and none of {sorted(clash)}")
    # Keyword-only: typer passes every value by name, and the spliced order need not be Python's
    # (defaults before non-defaults).
    parameters = [
        q.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in own.values()
        for q in (_SPEC_PARAMETERS.values() if p.name == "spec" else [p])
    ]

    @functools.wraps(command)
    def spliced(**values: Any) -> None:
        spec = job_spec(**{name: values.pop(name) for name in _SPEC_PARAMETERS})
        command(spec=spec, **values)

    spliced.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    spliced.__annotations__ = {p.name: p.annotation for p in parameters}
    return spliced


class JobSpecCommand(TyperCommand):
    """A dash-word after --command that tempoline does not know is most likely the command's
    own option; say where it goes rather than only that it is unknown."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if "--command" in args:
            known = {name for param in self.params for name in (*param.opts, *param.secondary_opts)}
            after = itertools.takewhile(lambda a: a != "--", args[args.index("--command") + 1 :])
            for word in after:
                if word.startswith("-") and word != "-" and word.partition("=")[0] not in known:
                    raise typer.BadParameter(
                        f"{word} is no option of {ctx.command_path}; if it is the command's own, put"
                        f" `--` before the command: {ctx.command_path} --name N --command -- sh -c 'exit 3'",
                        ctx=ctx,
                        param_hint="--command",
                    )
        return super().parse_args(ctx, args)
