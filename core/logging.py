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

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

_SECRET_KEYS = ("secret", "password", "token", "api_key", "authorization", "encryption_key")


def redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event:
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = "***"
    return event


def _temporal_context(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """temporalio's loggers attach their identity as a dict in `extra`; lift it to flat keys."""
    record = event.get("_record")
    for attr in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, attr, None) if record else None
        if details:
            event.setdefault("workflow_id", details.get("workflow_id"))
            event.setdefault("run_id", details.get("run_id"))
            if "activity_type" in details:
                event.setdefault("activity", details["activity_type"])
            if "workflow_type" in details:
                event.setdefault("workflow", details["workflow_type"])
    return event


def configure(service: str, level: str = "INFO", stream: IO[str] | None = None) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_context,
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
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
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
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
