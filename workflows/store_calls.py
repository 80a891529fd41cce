"""Workflows' calls to our own store, as local activities (routing's and the platform's).

Imported passed through by the workflow modules: deterministic workflow code, shared by all,
that the sandbox need not load again for every workflow run.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import workflow_cancel

A = TypeVar("A")
# The store class whose activity method is called (RoutingStore, PlatformStore).
C = TypeVar("C")
R = TypeVar("R")
# The store is ours: keep trying through a database restart rather than give up on a routing.
STORE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
STORE_TIMEOUT = timedelta(seconds=10)
# How often a call is tried as a local activity (1, 2, 4 and 8 s apart: 15 s). A local activity
# that keeps failing holds its workflow task open and adds one to the history every few seconds;
# past these attempts the call goes through the task queue, whose retries the server keeps
# without adding events. (A local activity's schedule-to-close did not end its retries here.)
LOCAL_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=5)


async def store(method: Callable[[C, A], Awaitable[R]], arg: A) -> R:
    """Our own database, milliseconds away: a local activity, recorded as a marker in the
    history instead of a round trip through the task queue (the provider calls are the ones
    that need the queue: heartbeats, long backoffs, rate limits). Retried until it works: a few
    times here, then as a regular activity (a database outage costs a routing's history a
    handful of events, however long it lasts)."""
    try:
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=STORE_TIMEOUT, retry_policy=LOCAL_RETRY
        )
    except (ActivityError, ApplicationError) as error:
        if isinstance(error, ActivityError):
            workflow_cancel.raise_if_canceled(error)  # not a store failure to work around
        # A local activity out of attempts raises its last failure itself, not an ActivityError.
        cause = error.cause if isinstance(error, ActivityError) else error
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            raise
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=STORE_TIMEOUT, retry_policy=STORE_RETRY
    )
