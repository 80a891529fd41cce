import pytest

from domain.routing import RoutingStatus, map_servicetitan_job_status, provider_event


@pytest.mark.parametrize(
    ("servicetitan", "status"),
    [
        ("Scheduled", RoutingStatus.SCHEDULED),
        ("Dispatched", RoutingStatus.IN_PROGRESS),
        ("Working", RoutingStatus.IN_PROGRESS),
        ("InProgress", RoutingStatus.IN_PROGRESS),
        ("Hold", RoutingStatus.IN_PROGRESS),
        ("Completed", RoutingStatus.COMPLETED),
        ("Canceled", RoutingStatus.CANCELED),
        (" completed ", RoutingStatus.COMPLETED),
        ("CANCELED", RoutingStatus.CANCELED),
    ],
)
def test_known_statuses(servicetitan: str, status: RoutingStatus) -> None:
    assert map_servicetitan_job_status(servicetitan) is status


@pytest.mark.parametrize("servicetitan", ["", "Pending", "Unknown", "Completed!", "In Progress"])
def test_unknown_statuses_map_to_none(servicetitan: str) -> None:
    assert map_servicetitan_job_status(servicetitan) is None


@pytest.mark.parametrize(
    "servicetitan", ["Scheduled", "Dispatched", "Working", "InProgress", "Hold", "Completed"]
)
def test_every_mapped_status_has_a_provider_event(servicetitan: str) -> None:
    status = map_servicetitan_job_status(servicetitan)
    assert status is not None
    provider_event(status)
