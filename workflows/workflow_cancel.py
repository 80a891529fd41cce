"""Temporal's own cancel reaching a workflow while a call is in flight.

The call then ends with an ActivityError whose cause is a CancelledError, and code that catches
ActivityError for a failed call (to retry, fall back, or wait in needs_attention) would take the
cancel for that failure and go on. Imported passed through by the workflow modules.
"""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, is_cancelled_exception

# workflow.patched: a history recorded before this raised down the old path.
PATCH = "workflow-cancel-is-not-a-failure"


def raise_if_canceled(error: ActivityError) -> None:
    """Raises asyncio.CancelledError, as the workflow's own cancel, when `error` is one."""
    if is_cancelled_exception(error) and workflow.patched(PATCH):
        raise asyncio.CancelledError() from error
