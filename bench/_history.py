"""Where a workflow's time went, read from its history: the gap between each event and the next,
named by the two events' types (an activity's events also by its activity type), so the same
step of many runs can be averaged and set beside a baseline's."""

from collections import defaultdict
from collections.abc import Iterable

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory


def _name(event: HistoryEvent, activities: dict[int, str]) -> str:
    """The event's type, with its activity's type for an activity's events."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
    kind = event.event_type
    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activities[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        return f"{name}({activities[event.event_id]})"
    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        return f"{name}({activities[event.activity_task_started_event_attributes.scheduled_event_id]})"
    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        return f"{name}({activities[event.activity_task_completed_event_attributes.scheduled_event_id]})"
    return name


def gaps(history: WorkflowHistory) -> dict[str, float]:
    """Seconds between consecutive events, summed by "previous → next" (server clock)."""
    activities: dict[int, str] = {}
    spent: defaultdict[str, float] = defaultdict(float)
    previous: tuple[str, float] | None = None
    for event in history.events:
        current = (_name(event, activities), _seconds(event))
        if previous is not None:
            spent[f"{previous[0]} → {current[0]}"] += current[1] - previous[1]
        previous = current
    return dict(spent)


def mean_gaps(histories: Iterable[WorkflowHistory]) -> dict[str, float]:
    """`gaps` averaged over the histories (a gap one history lacks counts as 0 for it)."""
    every = [gaps(history) for history in histories]
    summed: defaultdict[str, float] = defaultdict(float)
    for spent in every:
        for step, seconds in spent.items():
            summed[step] += seconds
    return {step: seconds / len(every) for step, seconds in summed.items()}


def span(history: WorkflowHistory) -> tuple[float, float]:
    """The first and last events' times: the run's start and close (server clock, epoch seconds)."""
    return _seconds(history.events[0]), _seconds(history.events[-1])


def _seconds(event: HistoryEvent) -> float:
    return event.event_time.ToMicroseconds() / 1e6
