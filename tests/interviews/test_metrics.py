"""An interview's run is measured on the worker's /metrics, per stage and provider: each
attempt's duration by outcome, failed attempts by reason, the tokens the models counted and the
run's end; the analysis that stood is served with its token usage and latency."""

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from activities.interview_metrics import FINISHED, LLM_TOKENS, STAGE_DURATION, STAGE_ERRORS
from core.settings import Settings
from tests.conftest import terminate_running
from tests.interviews.test_pipeline import _ends, _uploaded
from tests.ops.conftest import running_stack


def _sum(exposition: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def test_a_run_is_measured_per_stage_and_provider_and_its_usage_is_stored(
    interview_settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    emulator: str,
    admin_headers: dict[str, str],
) -> None:
    # Interviews other tests started and left waiting for a worker would be measured too.
    await terminate_running(temporal.client, "Interview")
    async with (
        running_stack(interview_settings) as stack,
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        httpx.AsyncClient() as http,
    ):
        # OpenAI is rate-limited once, then answers what is not JSON and, told why, what breaks
        # the schema: Anthropic analyzes.
        fault = {
            "provider": "openai",
            "path": "/chat/completions",
            "status": 429,
            "retry_after": 1,
            "count": 1,
        }
        (await http.post(f"{emulator}/_control/faults", json=fault)).raise_for_status()
        for content in ("{not json", {"ratings": {}}):
            scripted = {"pattern": "Backend engineer", "content": content, "count": 1}
            (await http.post(f"{emulator}/_control/openai/answers", json=scripted)).raise_for_status()
        headers, interview_id = await _uploaded(api, admin_headers, "local-two-speakers.wav")
        done = await _ends(api, headers, interview_id, "analyzed", "failed", "analysis_failed")
        assert done["status"] == "analyzed", done
        card = (await api.get(f"/api/interviews/{interview_id}/analysis", headers=headers)).json()
        scraped = (await http.get(stack.worker_metrics_url)).text

    assert card["provider"] == "anthropic", card
    assert card["input_tokens"] > 0 and card["output_tokens"] > 0 and card["latency_ms"] >= 0, card
    count = f"{STAGE_DURATION}_count"
    analysis = {"stage": "analysis"}
    assert _sum(scraped, count, stage="transcription", provider="local", outcome="ok") == 1
    assert _sum(scraped, count, **analysis, provider="openai", outcome="error") == 2
    assert _sum(scraped, count, **analysis, provider="anthropic", outcome="ok") == 1
    assert _sum(scraped, STAGE_ERRORS, **analysis, provider="openai", reason="rate_limited") == 1
    assert _sum(scraped, STAGE_ERRORS, **analysis, provider="openai", reason="schema_violation") == 1
    assert _sum(scraped, STAGE_ERRORS, provider="anthropic") == 0
    # The unusable answer's tokens were spent too; the one that stood is the one stored.
    assert _sum(scraped, LLM_TOKENS, provider="openai", kind="input") > 0
    assert _sum(scraped, LLM_TOKENS, provider="anthropic", kind="input") == card["input_tokens"]
    assert _sum(scraped, LLM_TOKENS, provider="anthropic", kind="output") == card["output_tokens"]
    assert _sum(scraped, FINISHED, status="analyzed") == 1
    # Buckets in seconds up to the transcription's hour, not the SDK's millisecond defaults.
    assert _sum(scraped, f"{STAGE_DURATION}_bucket", stage="transcription", outcome="ok", le="1800") == 1
