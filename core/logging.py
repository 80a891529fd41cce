"""Structured JSON logs, one object per line, for every process of the stack.

structlog renders; the standard library (uvicorn, temporalio's workflow/activity loggers) is routed
through the same renderer so every line carries the same keys. Secrets never enter a log line:
`redact` masks any key that looks like one before rendering.
"""

import contextvars
import logging
import sys
from typing import IO, Any

import structlog
import temporalio.activity
import temporalio.workflow

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

_SECRET_KEYS = ("secret", "password", "token", "api_key", "authorization", "encryption_key")


def redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event:
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = "***"
    return event


# Our field names, from the identity temporalio's loggers attach to an activity's or a workflow's line.
_SDK_FIELDS = {
    "temporal_activity": {
        "workflow_id": "workflow_id",
        "run_id": "workflow_run_id",
        "workflow": "workflow_type",
        "activity": "activity_type",
        "activity_id": "activity_id",
        "attempt": "attempt",
    },
    "temporal_workflow": {
        "workflow_id": "workflow_id",
        "run_id": "run_id",
        "workflow": "workflow_type",
        "attempt": "attempt",
    },
}


def _temporal_context(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """temporalio's loggers attach their identity as a dict in `extra`; lift it to flat keys.

    Lines the SDK writes about an activity (e.g. "Completing activity as failed") are emitted
    outside our interceptor, so this is the only place their run id and attempt come from.
    """
    record = event.get("_record")
    for attribute, fields in _SDK_FIELDS.items():
        identity = getattr(record, attribute, None) if record else None
        if not identity:
            continue
        for ours, theirs in fields.items():
            event.setdefault(ours, identity.get(theirs))
    return event


def _correlation(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """The request's (or the activity's) correlation id, on every line logged while it is set."""
    cid = correlation_id.get()
    if cid is not None:
        event.setdefault("correlation_id", cid)
    return event


def configure(service: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_context,
        _correlation,
        redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                lambda _, __, e: {"service": service, **e},
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK's loggers also append their identity dict to the message; it is in keys already.
    temporalio.activity.logger.activity_info_on_message = False
    temporalio.workflow.logger.workflow_info_on_message = False
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
