"""Provider job statuses in routing terms."""

from domain.routing.status import RoutingStatus

# ServiceTitan job statuses (JPM API), matched case-insensitively so that a casing difference
# is not mistaken for an unknown status.
_SERVICETITAN = {
    "scheduled": RoutingStatus.SCHEDULED,
    # A technician is on the way: the receiver has started working the job.
    "dispatched": RoutingStatus.IN_PROGRESS,
    "working": RoutingStatus.IN_PROGRESS,
    "inprogress": RoutingStatus.IN_PROGRESS,
    # On hold (e.g. waiting for parts) is a pause in work already started, not a new booking.
    "hold": RoutingStatus.IN_PROGRESS,
    "completed": RoutingStatus.COMPLETED,
    "canceled": RoutingStatus.CANCELED,
}


def map_servicetitan_job_status(status: str) -> RoutingStatus | None:
    """The routing status for a ServiceTitan job status; None for one we do not know, which
    the caller should log and ignore rather than guess at."""
    return _SERVICETITAN.get(status.strip().casefold())
