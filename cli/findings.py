"""What `tempoline doctor` reports: one finding per check (its status, what is wrong, the fix)."""

from enum import StrEnum

from pydantic import BaseModel


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


class Finding(BaseModel):
    check: str
    status: Status
    summary: str
    fix: str | None = None
    details: list[str] = []


class Report(BaseModel):
    healthy: bool
    findings: list[Finding]
