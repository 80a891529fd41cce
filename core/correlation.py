"""Correlation id propagation: API request → workflow header → every activity it schedules.

The API binds a correlation id per request (core.logging.correlation_id); the client interceptor
stamps it on every workflow start, signal and update; the workflow interceptor keeps the id the
workflow was started with and stamps it on its activities (local ones too), child workflows and
continue-as-new; the activity interceptor binds it, with the workflow and activity identity and
the attempt, into every log line.
"""

from collections.abc import Mapping
from typing import Any, NoReturn

import structlog
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Interceptor as ClientInterceptor,
)
from temporalio.client import (
    OutboundInterceptor,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
)
from temporalio.converter import default as default_converter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.worker import (
    Interceptor as WorkerInterceptor,
)

from core.logging import correlation_id

HEADER = "correlation-id"


def _with_id(headers: Mapping[str, Payload], cid: str | None) -> Mapping[str, Payload]:
    if not cid or HEADER in headers:
        return headers
    return {**headers, HEADER: default_converter().payload_converter.to_payload(cid)}


def _read_id(headers: Mapping[str, Payload]) -> str | None:
    payload = headers.get(HEADER)
    return default_converter().payload_converter.from_payload(payload, str) if payload else None


class _ClientOutbound(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        input.headers = _with_id(input.headers, correlation_id.get())
        return await self.next.start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.headers = _with_id(input.headers, correlation_id.get())
        await self.next.signal_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        input.headers = _with_id(input.headers, correlation_id.get())
        return await self.next.start_workflow_update(input)

    async def start_update_with_start_workflow(self, input: StartWorkflowUpdateWithStartInput) -> Any:
        cid = correlation_id.get()
        start, update = input.start_workflow_input, input.update_workflow_input
        start.headers = _with_id(start.headers, cid)
        update.headers = _with_id(update.headers, cid)
        return await self.next.start_update_with_start_workflow(input)


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, inbound: "_WorkflowInbound") -> None:
        super().__init__(next)
        self._inbound = inbound

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        input.headers = _with_id(input.headers, self._inbound.correlation_id)
        return self.next.start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        input.headers = _with_id(input.headers, self._inbound.correlation_id)
        return self.next.start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> workflow.ChildWorkflowHandle:
        input.headers = _with_id(input.headers, self._inbound.correlation_id)
        return await self.next.start_child_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        input.headers = _with_id(input.headers, self._inbound.correlation_id)
        self.next.continue_as_new(input)


class _WorkflowInbound(WorkflowInboundInterceptor):
    correlation_id: str | None = None

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self.correlation_id = _read_id(input.headers)
        return await self.next.execute_workflow(input)


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        cid = _read_id(input.headers)
        token = correlation_id.set(cid)
        with structlog.contextvars.bound_contextvars(
            correlation_id=cid,
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            activity=info.activity_type,
            activity_id=info.activity_id,
            attempt=info.attempt,
        ):
            try:
                return await self.next.execute_activity(input)
            finally:
                correlation_id.reset(token)


class CorrelationInterceptor(ClientInterceptor, WorkerInterceptor):
    """Given to the client, it is also picked up by every worker built from that client."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowInbound
