"""A trivial workflow + activity pair: the unit of work benchmarks count."""

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class Echo(BaseModel):
    text: str
    n: int


@activity.defn(name="bench_echo")
async def echo(payload: Echo) -> Echo:
    return payload


@workflow.defn(name="BenchEchoWorkflow")
class EchoWorkflow:
    @workflow.run
    async def run(self, payload: Echo) -> Echo:
        return await workflow.execute_activity(echo, payload, start_to_close_timeout=timedelta(seconds=30))
