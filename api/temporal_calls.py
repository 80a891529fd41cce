"""Calls from the API into Temporal, and what their failures mean for the caller: 503 when
Temporal cannot be reached, 409 when a workflow refuses an update, 504 when it does not answer."""

import asyncio
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from api.problems import TEMPORAL_UNAVAILABLE, ProblemError, responses

T = TypeVar("T")
# How long a request waits for a workflow to answer an update. A workflow whose worker is down
# (or whose handler waits too long) must never hold an HTTP request, and its connection, open.
UPDATE_DEADLINE = timedelta(seconds=10)


def update_responses(subject: str) -> dict[int | str, dict[str, Any]]:
    """What an action that is an update to `subject`'s workflow can answer besides its result."""
    return {
        **responses(
            {
                409: f"The {subject} refuses the action in its current state; `detail` says why",
                504: f"The {subject}'s workflow did not answer in time; the action may still take effect",
            }
        ),
        **TEMPORAL_UNAVAILABLE,
    }


@contextmanager
def reaching_temporal(consequence: str) -> Iterator[None]:
    """Turns "cannot reach Temporal" into 503 + Retry-After; `consequence` tells the caller what
    that meant for their request (e.g. "nothing was changed")."""
    unavailable = ProblemError(503, "Temporal unavailable", consequence, {"Retry-After": "5"}, retryable=True)
    try:
        yield
    except RPCError as exc:
        raise unavailable from exc
    except RuntimeError as exc:
        # The API's client connects lazily: its first call fails this way while Temporal is down.
        if "client connect" not in str(exc):
            raise
        raise unavailable from exc


async def execute_update(
    handle: WorkflowHandle[Any, Any],
    update: str,
    args: Sequence[Any],
    result_type: type[T],
    what: str,
    deadline: timedelta = UPDATE_DEADLINE,
) -> T:
    """Runs `update` within `deadline`. A validator's (or handler's) refusal is a 409 with its
    reason, not to be retried as is; no answer in time is a 504 saying the update may still apply.
    `what` names the action for the caller ("accept this routing"). RPC errors are left to
    `reaching_temporal`."""
    # rpc_timeout bounds each call (the server sees the deadline too); the SDK then polls for
    # the outcome without one, hence the overall timeout.
    return await answered(
        handle.execute_update(update, args=args, result_type=result_type, rpc_timeout=deadline),
        what,
        deadline,
    )


async def answered(call: Awaitable[T], what: str, deadline: timedelta = UPDATE_DEADLINE) -> T:
    """An update's answer (plain, or with start) within `deadline`, its failures as execute_update's."""
    seconds = deadline.total_seconds()
    try:
        async with asyncio.timeout(seconds):
            return await call
    except WorkflowUpdateFailedError as exc:
        reason = exc.cause.message if isinstance(exc.cause, ApplicationError) else str(exc.cause)
        raise ProblemError(409, f"Cannot {what}", reason, retryable=False) from exc
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError) as exc:
        raise ProblemError(
            504,
            f"No answer in time to {what}",
            f"The workflow did not answer within {seconds:g} s (its worker may be down or busy). "
            "The request may still take effect: check the current status before sending it again.",
            retryable=True,
        ) from exc
