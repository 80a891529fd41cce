"""Every metric an alert rule or a dashboard uses exists: the stack runs, routings go through the
emulator with a provider fault and a tight rate limit, an interview is transcribed and analyzed
through a rate-limited model, a workflow task and an activity fail, and the names are read back
from the API's and the worker's /metrics."""

import asyncio
import json
import re
import uuid

import httpx
import yaml

from core.settings import Settings
from tests.integration import routing_world as world
from tests.interviews.conftest import FIXTURES, tenant_with_interview
from tests.ops import failing
from tests.ops.conftest import ROOT, running_stack
from tests.platform.api_world import member
from tests.scheduling.google_world import Google, connected

RULES = sorted((ROOT / "infra" / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "infra" / "grafana" / "dashboards").glob("*.json"))
# Words of PromQL that are not metric names.
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: what is left once strings, label matchers, ranges,
    grouping clauses, function calls, keywords, numbers and Grafana's $variables are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\w+", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        word, call = match.groups()
        if not call and word not in KEYWORDS and not re.fullmatch(r"\d+\w*|Inf|NaN", word):
            names.add(word)
    return names


def test_the_parser_finds_names_and_nothing_else():
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(x_bucket{route!~".*/(events|logs)"}[5m])))'
        ' / on (job) group_left y_total > 0.9 * 1073741824 or absent(z{task_queue="routing"})'
    )
    assert metric_names(expr) == {"x_bucket", "y_total", "z"}


def _exprs() -> dict[str, str]:
    exprs = {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                exprs[f"{path.name}:{rule['alert']}"] = rule["expr"]
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                exprs[f"{path.name}:{panel['title']}:{target['refId']}"] = target["expr"]
    return exprs


def _samples(exposition: str) -> set[str]:
    return {
        re.split(r"[{ ]", line, maxsplit=1)[0] for line in exposition.splitlines() if line and line[0] != "#"
    }


async def _drive_routing(api: httpx.AsyncClient, emulator: str, admin: world.Headers) -> None:
    """Routings sent through a 503 and a rate limit of two calls a second: provider calls of
    each class, rate-limit waits and deferrals, status transitions."""
    referrer = await world.company(api, admin, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    await world.receiver(api, admin, emulator, "Receiver", referrer=referrer, rate_limit_per_second=2)
    await world.fault(emulator, path=r"^/api/", status=503, count=1)
    jobs = await asyncio.gather(
        *(api.post("/api/routing/jobs", json=world.job_body(n), headers=referrer.headers) for n in range(4))
    )
    assert {job.status_code for job in jobs} == {202}
    await api.get("/api/routing/jobs/not-a-uuid", headers=referrer.headers)  # a 4xx for the API's counters


async def _drive_scheduling(
    api: httpx.AsyncClient, settings: Settings, emulator: str, admin: world.Headers
) -> None:
    """A calendar chosen and synced, its first listing refused once for rate: syncs, their
    durations, events processed, Google calls and refusals."""
    headers = await member(api, admin, "calendars")
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    user, _ = await connected(api, headers, settings, email)
    google = Google(emulator, email)
    google_id = await google.calendar("Ops")
    await google.bulk(google_id, 5)
    await google.inject("events.list", "rateLimitExceeded")
    listed = (await api.get(f"/api/scheduling/users/{user['id']}/calendars", headers=headers)).json()
    [calendar] = [c for c in listed if c["google_calendar_id"] == google_id]
    path = f"/api/scheduling/users/{user['id']}/calendars/{calendar['id']}"
    assert (await api.patch(path, json={"selected": True}, headers=headers)).status_code == 200
    synced = await api.post(f"{path}/sync", headers=headers, timeout=60)
    assert synced.json()["status"] == "ok", synced.text


async def _drive_platform(api: httpx.AsyncClient, admin: world.Headers) -> None:
    """A job no executor takes before its queue timeout: an attempt's end, counted."""
    headers = await member(api, admin, "jobs")
    body = {"name": "unplaced", "command": ["true"], "worker_type": "nowhere", "queue_timeout_seconds": 1}
    created = await api.post("/api/platform/jobs", json=body, headers=headers)
    assert created.status_code == 201, created.text


async def _drive_interviews(api: httpx.AsyncClient, emulator: str, admin: world.Headers) -> None:
    """A recording transcribed offline and analyzed, OpenAI rate-limited once on the way: stage
    attempts of both outcomes, an error by reason, tokens, a run ended (the caller's wait for
    every name covers the processing)."""
    async with httpx.AsyncClient() as http:
        fault = {
            "provider": "openai",
            "path": "/chat/completions",
            "status": 429,
            "retry_after": 1,
            "count": 1,
        }
        (await http.post(f"{emulator}/_control/faults", json=fault)).raise_for_status()
    headers, meeting = await tenant_with_interview(api, admin, "interviews")
    data = (FIXTURES / "local-two-speakers.wav").read_bytes()
    uploaded = await api.post(f"/api/interviews/{meeting['id']}/recordings", content=data, headers=headers)
    assert uploaded.status_code == 201, uploaded.text


async def test_every_metric_in_rules_and_dashboards_is_exported(
    settings: Settings, temporal, clean_db: None, emulator: str, admin_headers: world.Headers
):
    used = {where: metric_names(expr) for where, expr in _exprs().items()}
    assert DASHBOARDS and RULES and all(used.values())
    async with running_stack(settings, [failing.worker]) as stack, httpx.AsyncClient() as http:
        async with httpx.AsyncClient(base_url=stack.api_url) as api:
            await _drive_routing(api, emulator, admin_headers)
            await _drive_scheduling(api, settings, emulator, admin_headers)
            await _drive_platform(api, admin_headers)
            await _drive_interviews(api, emulator, admin_headers)
        client = stack.client
        await client.execute_workflow(
            failing.FailsOnce.run, id=f"ops-{uuid.uuid4()}", task_queue=failing.QUEUE
        )
        broken = await client.start_workflow(
            failing.BrokenTask.run, id=f"ops-{uuid.uuid4()}", task_queue=failing.QUEUE
        )
        missing: dict[str, list[str]] = {}

        async def everything_exported() -> set[str] | None:
            nonlocal missing
            worker = _samples((await http.get(stack.worker_metrics_url)).text)
            exported = worker | _samples((await http.get(f"{stack.api_url}/metrics")).text)
            missing = {where: sorted(names - exported) for where, names in used.items() if names - exported}
            return worker if not missing else None

        try:
            worker_names = await world.eventually(everything_exported, 60, "every metric used")
        except AssertionError:
            raise AssertionError(f"not exported: {missing}") from None
        finally:
            await broken.terminate("test finished")
    # The worker reports its process as the API does, so one rule covers both.
    assert {"process_resident_memory_bytes", "process_start_time_seconds"} <= worker_names
