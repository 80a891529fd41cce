"""Temporal being unreachable is a 503 for the caller, with what did (not) happen."""

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.service import RPCError

from api.problems import ProblemError


@contextmanager
def reaching_temporal(consequence: str) -> Iterator[None]:
    """Turns "cannot reach Temporal" into 503 + Retry-After; `consequence` tells the caller what
    that meant for their request (e.g. "nothing was changed")."""
    try:
        yield
    except RPCError as exc:
        raise ProblemError(503, "Temporal unavailable", consequence, {"Retry-After": "5"}) from exc
    except RuntimeError as exc:
        # The API's client connects lazily: its first call fails this way while Temporal is down.
        if "client connect" not in str(exc):
            raise
        raise ProblemError(503, "Temporal unavailable", consequence, {"Retry-After": "5"}) from exc
