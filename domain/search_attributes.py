"""Search attributes every deployment registers: they make pipelines findable in the Web UI and
with `temporal workflow list --query 'RoutingStatus="needs_attention"'`."""

from temporalio.common import SearchAttributeKey

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
ROUTING_STATUS = SearchAttributeKey.for_keyword("RoutingStatus")
RECEIVING_COMPANY = SearchAttributeKey.for_keyword("ReceivingCompany")
PROVIDER = SearchAttributeKey.for_keyword("Provider")
# Platform jobs: `temporal workflow list --query 'JobStatus="RUNNING"'`.
JOB_STATUS = SearchAttributeKey.for_keyword("JobStatus")
WORKER_TYPE = SearchAttributeKey.for_keyword("WorkerType")
PRIORITY = SearchAttributeKey.for_int("Priority")
# Calendar syncs: `temporal workflow list --query 'CalendarSyncStatus="reauthorization_required"'`.
SCHEDULING_USER = SearchAttributeKey.for_keyword("SchedulingUserId")
CALENDAR_SYNC_STATUS = SearchAttributeKey.for_keyword("CalendarSyncStatus")

ALL = (
    TENANT_ID,
    ROUTING_STATUS,
    RECEIVING_COMPANY,
    PROVIDER,
    JOB_STATUS,
    WORKER_TYPE,
    PRIORITY,
    SCHEDULING_USER,
    CALENDAR_SYNC_STATUS,
)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += [
            "--search-attribute",
            f"{key.name}={key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_').title()}",
        ]
    return flags
