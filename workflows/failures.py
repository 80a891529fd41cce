"""What a failed activity said, for workflows that decide by it (the calendar sync, the
interview). Imported passed through by the workflow modules."""

from temporalio.exceptions import ActivityError, ApplicationError


def cause_of(error: ActivityError) -> tuple[str, str]:
    """The failed activity's error type ("" when it raised no ApplicationError) and message."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "", cause.message
    return "", str(cause or error)
