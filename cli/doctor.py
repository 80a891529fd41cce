"""`tempoline doctor`: what is wrong with this deployment and what to do about it.

Each check reads what the running system reports (settings, PostgreSQL, Temporal's namespace,
search attributes and task queues, the API's views, each provider's answer to one authenticated
call: cli/doctor_providers.py) and says, for anything wrong, the fix. A check that cannot run
because one it depends on failed says so instead of guessing.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select
from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client

from activities.dependencies import Dependencies
from api.routers.codec import ui_token
from cli import doctor_providers as providers
from cli.findings import Finding, Report, Status
from core.settings import EMULATOR_URL, Settings, get_settings
from core.temporal import cipher_from, connect
from domain.platform.status import JobStatus
from domain.routing.status import RoutingStatus
from domain.search_attributes import ALL as SEARCH_ATTRIBUTES
from registry import task_queues
from store import platform as platform_tables
from store import routing as routing_tables
from store import scheduling as scheduling_tables
from store.db import Database
from store.migrate import MIGRATIONS

RPC_TIMEOUT = timedelta(seconds=5)
CHECK_TIMEOUT = 15.0
# A task older than this in a queue's backlog means too few workers (or none).
BACKLOG_AGE_WARN = timedelta(seconds=30)
# The most findings one check lists in detail (the rest are counted).
SHOWN = 10


def configuration(settings: Settings) -> Finding:
    problems, fixes = [], []
    if not settings.database_url:
        problems.append("DATABASE_URL is not set")
        fixes.append("set DATABASE_URL to the PostgreSQL of this deployment")
    try:
        cipher_from(settings)
    except (RuntimeError, ValueError) as exc:
        problems.append(f"TEMPOLINE_ENCRYPTION_KEY: {exc}")
        fixes.append("set TEMPOLINE_ENCRYPTION_KEY to the key every process of this deployment shares")
    if not (settings.admin_api_key or settings.api_key):
        problems.append(
            "neither TEMPOLINE_ADMIN_API_KEY nor TEMPOLINE_API_KEY is set: the API's views are out of reach"
        )
        fixes.append("set TEMPOLINE_ADMIN_API_KEY (or an admin key in TEMPOLINE_API_KEY)")
    ports = Counter(
        p
        for p in (
            settings.api_port,
            settings.worker_metrics_port,
            settings.emulators_port,
            settings.emulators_grpc_port,
        )
        if p
    )
    for port, uses in ports.items():
        if uses > 1:
            problems.append(f"port {port} is set for {uses} services on one host")
            fixes.append(
                "give TEMPOLINE_API_PORT, TEMPOLINE_WORKER_METRICS_PORT and the emulators' ports "
                "distinct values"
            )
    # A provider half on the emulators, half on the real service fails in confusing ways.
    pairs = {
        "ServiceTitan": ("servicetitan_auth_url", "servicetitan_api_url"),
        "Google OAuth": ("google_oauth_token_uri", "google_oauth_auth_uri"),
    }
    emulated = []
    for provider, fields in pairs.items():
        names = [Settings.model_fields[f].alias for f in fields]
        on_emulator = [_on_emulators(getattr(settings, f), settings) for f in fields]
        if any(on_emulator) and not all(on_emulator):
            problems.append(
                f"{provider}: {names[0]} and {names[1]} point one at the emulators, one elsewhere"
            )
            fixes.append(f"point both {names[0]} and {names[1]} at the same {provider}")
        elif all(on_emulator):
            emulated.append(provider)
    if problems:
        return Finding(
            check="configuration", status=Status.FAIL, summary="; ".join(problems), fix="; ".join(fixes)
        )
    note = f" (emulated: {', '.join(emulated)})" if emulated else ""
    return Finding(check="configuration", status=Status.OK, summary=f"settings are complete{note}")


def _on_emulators(url: str, settings: Settings) -> bool:
    return url.startswith(EMULATOR_URL) or urlsplit(url).port == settings.emulators_port


async def postgresql(database: Database) -> Finding:
    try:
        async with database.engine.connect() as connection:
            current = await connection.run_sync(
                lambda c: set(MigrationContext.configure(c).get_current_heads())
            )
    except Exception as exc:
        return Finding(
            check="postgresql",
            status=Status.FAIL,
            summary=f"cannot reach PostgreSQL: {type(exc).__name__}: {exc}"[:300],
            fix="check DATABASE_URL (host, port, credentials, database) and that the server is up",
        )
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    if current != heads:
        at = ", ".join(sorted(current)) or "no migration applied"
        return Finding(
            check="postgresql",
            status=Status.FAIL,
            summary=f"not migrated: the database is at {at}, the code expects {', '.join(sorted(heads))}",
            fix="run `tempoline migrate` (the migrate service or Job of the deployment) before the API "
            "and workers",
        )
    return Finding(check="postgresql", status=Status.OK, summary="reachable and migrated")


async def temporal(client: Client) -> list[Finding]:
    namespace = client.namespace
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace), timeout=RPC_TIMEOUT
    )
    registered = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace), timeout=RPC_TIMEOUT
    )
    missing, wrong = [], []
    for key in SEARCH_ATTRIBUTES:
        found = registered.custom_attributes.get(key.name)
        expected = IndexedValueType.Name(key.indexed_value_type)
        if found is None:
            missing.append(f"{key.name} ({expected})")
        elif found != key.indexed_value_type:
            wrong.append(f"{key.name} is {IndexedValueType.Name(found)}, not {expected}")
    reached = Finding(
        check="temporal", status=Status.OK, summary=f"reachable; namespace {namespace!r} exists"
    )
    if not (missing or wrong):
        return [reached, Finding(check="search attributes", status=Status.OK, summary="all registered")]
    return [
        reached,
        Finding(
            check="search attributes",
            status=Status.FAIL,
            summary=f"{len(missing)} missing, {len(wrong)} of another type in namespace {namespace!r}",
            details=[f"missing: {m}" for m in missing] + wrong,
            fix="run the deployment's search-attribute setup (compose: temporal-setup; Kubernetes: the "
            "tempoline-temporal-setup Job), or `temporal operator search-attribute create --name N --type T`",
        ),
    ]


async def task_queue(
    client: Client, name: str, *, workflows: bool = True, activities: bool = True
) -> Finding:
    """Pollers and backlog of one task queue, for the kinds of task it serves: workflow tasks,
    activity tasks, or both (DescribeTaskQueue)."""
    details, unpolled, slow = [], [], []
    kinds = [
        (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "workflow", workflows),
        (TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, "activity", activities),
    ]
    for kind, label, served in kinds:
        if not served:
            continue
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=name),
                task_queue_type=kind,
                report_stats=True,
            ),
            timeout=RPC_TIMEOUT,
        )
        backlog = response.stats.approximate_backlog_count
        age = response.stats.approximate_backlog_age.ToTimedelta()
        details.append(
            f"{label}: {len(response.pollers)} pollers, backlog {backlog} "
            f"(oldest {age.total_seconds():.0f} s)"
        )
        if not response.pollers:
            unpolled.append(label)
        elif age > BACKLOG_AGE_WARN:
            slow.append(label)
    check = f"task queue {name}"
    if unpolled:
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"no worker polls its {' and '.join(unpolled)} tasks",
            details=details,
            fix=f"start workers for it: `python worker.py --queues {name}` (compose: the worker service "
            "of its "
            "context; Kubernetes: its worker Deployment), and read their logs if they exit",
        )
    if slow:
        return Finding(
            check=check,
            status=Status.WARN,
            summary=f"{' and '.join(slow)} tasks wait over "
            f"{BACKLOG_AGE_WARN.total_seconds():.0f} s for a worker",
            details=details,
            fix="add worker replicas for this context, or look for activities holding every slot",
        )
    return Finding(check=check, status=Status.OK, summary="polled, no lasting backlog", details=details)


async def _grouped(
    database: Database,
    check: str,
    kind: Any,
    reason: Any,
    where: Any,
    *,
    ok: str,
    summary: str,
    detail: str,
    fix: str,
) -> Finding:
    """Rows in a state that needs someone, counted by (kind, reason), most first: OK when there
    are none, else a warning naming them (`summary` and `detail` formatted with total / count,
    kind, reason)."""
    query = (
        select(kind, reason, func.count()).where(where).group_by(kind, reason).order_by(func.count().desc())
    )
    async with database.sessions() as session:
        groups = (await session.execute(query)).all()
    total = sum(count for *_, count in groups)
    if not total:
        return Finding(check=check, status=Status.OK, summary=ok)
    return Finding(
        check=check,
        status=Status.WARN,
        summary=summary.format(total=total),
        details=[detail.format(count=n, kind=k or "?", reason=(r or "")[:200]) for k, r, n in groups[:SHOWN]],
        fix=fix,
    )


async def routings_needing_attention(database: Database) -> Finding:
    Routing = routing_tables.Routing
    return await _grouped(
        database,
        "routings",
        Routing.failed_step,
        Routing.last_error,
        Routing.status == RoutingStatus.NEEDS_ATTENTION.value,
        ok="none in needs_attention",
        summary="{total} routings in needs_attention",
        detail="{count} at {kind}: {reason}",
        fix="fix the cause (often the receiver's ServiceTitan connection), then retry them: "
        "POST /api/routing/routings/{id}/retry; list them with "
        "`tempoline temporal workflow list --query 'RoutingStatus=\"needs_attention\"'`",
    )


async def jobs_waiting(database: Database) -> Finding:
    Job = platform_tables.PlatformJob
    query = (
        select(Job.wait_reason, func.count(), func.min(Job.created_at))
        .where(Job.status == JobStatus.PENDING.value, Job.wait_reason.is_not(None))
        .group_by(Job.wait_reason)
        .order_by(func.count().desc())
    )
    async with database.sessions() as session:
        groups = (await session.execute(query)).all()
    total = sum(count for _, count, _ in groups)
    if not total:
        return Finding(check="platform jobs", status=Status.OK, summary="none waiting for an executor")
    return Finding(
        check="platform jobs",
        status=Status.WARN,
        summary=f"{total} jobs waiting for an executor",
        details=[
            f"{count}: {reason} (oldest created {oldest:%Y-%m-%d %H:%M:%S})"
            for reason, count, oldest in groups[:SHOWN]
        ],
        fix="start executors of the type and capabilities the reasons name (`tempoline executor ...`), "
        "or see `tempoline worker list` for executors offline or draining",
    )


async def calendars_failing(database: Database) -> Finding:
    Calendar = scheduling_tables.Calendar
    return await _grouped(
        database,
        "calendars",
        Calendar.sync_status,
        Calendar.last_error,
        Calendar.selected & Calendar.sync_status.in_(["error", "reauthorization_required"]),
        ok="every synced calendar is in sync",
        summary="{total} synced calendars are not in sync",
        detail="{count} {kind}: {reason}",
        fix="reauthorization_required: the user connects Google again "
        "(POST /api/scheduling/users/{id}/google/connect); error: the reason is Google's, and the "
        "calendar's next sync tries again (docs/runbook.md, Calendar sync failures)",
    )


def _admin_headers(settings: Settings) -> dict[str, str]:
    key = settings.admin_api_key or (settings.api_key.get_secret_value() if settings.api_key else "")
    return {"Authorization": f"Bearer {key}"}


async def provider_credentials(http: httpx.AsyncClient, settings: Settings) -> Finding:
    """Asks the API to get a token with every stored provider connection (its ops view)."""
    response = await http.get(
        f"{settings.api_url}/api/routing/ops/provider-health", headers=_admin_headers(settings)
    )
    response.raise_for_status()
    failing = [c for c in response.json() if not c["ok"]]
    if not failing:
        return Finding(
            check="provider credentials",
            status=Status.OK,
            summary=f"{len(response.json())} connections get a token",
        )
    return Finding(
        check="provider credentials",
        status=Status.FAIL,
        summary=f"{len(failing)} provider connections cannot get a token",
        details=[
            f"company {c['company_id']} (ServiceTitan tenant {c['st_tenant_id']}): {c.get('reason')}"
            for c in failing[:SHOWN]
        ],
        fix="the company renews its client id and secret: PUT /api/routing/connection; its routings "
        "wait in needs_attention until then",
    )


async def codec(http: httpx.AsyncClient, settings: Settings) -> Finding:
    """The Web UI's browser calls the codec endpoint from the UI's origin, after a CORS preflight
    for the headers the UI sends: both must be allowed for each of the UI's origins."""
    endpoint = f"{settings.api_url}/codec/ui/{ui_token(settings.encryption_key or '')}"
    problems = []
    for origin in settings.web_ui_origins:
        preflight = await http.options(
            f"{endpoint}/decode",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        decoded = await http.post(f"{endpoint}/decode", json={"payloads": []}, headers={"Origin": origin})
        allowed = {r.headers.get("access-control-allow-origin") for r in (preflight, decoded)} == {origin}
        if preflight.status_code != 200 or decoded.status_code != 200:
            problems.append(f"from {origin}: HTTP {preflight.status_code} (preflight), {decoded.status_code}")
        elif not allowed:
            problems.append(f"from {origin}: the API does not allow this origin (CORS)")
    where = f"Web UI codec endpoint (TEMPORAL_CODEC_ENDPOINT of the UI): {endpoint}"
    if problems:
        return Finding(
            check="codec endpoint",
            status=Status.FAIL,
            summary="the Web UI cannot decode payloads",
            details=[*problems, where],
            fix="set TEMPOLINE_WEB_UI_ORIGINS to the Web UI's origin, and give the UI the endpoint above",
        )
    return Finding(
        check="codec endpoint",
        status=Status.OK,
        summary="reachable from the Web UI's origins",
        details=[where],
    )


async def _guarded(
    check: str, run: Callable[[], Awaitable[Finding | list[Finding]]], fix: str
) -> list[Finding]:
    try:
        result = await asyncio.wait_for(run(), CHECK_TIMEOUT)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return [Finding(check=check, status=Status.FAIL, summary=reason[:300], fix=fix)]
    return result if isinstance(result, list) else [result]


def _skipped(check: str, because: str) -> Finding:
    return Finding(check=check, status=Status.SKIPPED, summary=f"not checked: {because}")


async def diagnose(settings: Settings) -> Report:
    findings = [configuration(settings)]
    try:
        cipher_from(settings)
        usable = bool(settings.database_url)
    except (RuntimeError, ValueError):
        usable = False
    if not usable:
        findings.append(_skipped("everything else", "the configuration is incomplete"))
        return Report(healthy=False, findings=findings)

    async with Dependencies.open(settings) as deps:
        database = deps.database
        db = await _guarded("postgresql", lambda: postgresql(database), "check DATABASE_URL and the server")
        findings += db
        db_ok = db[0].status is Status.OK
        try:
            client = await asyncio.wait_for(connect(settings), CHECK_TIMEOUT)
        except Exception as exc:
            client = None
            findings.append(
                Finding(
                    check="temporal",
                    status=Status.FAIL,
                    summary=f"cannot connect to {settings.temporal_address}: {type(exc).__name__}: {exc}"[
                        :300
                    ],
                    fix="check TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (and the TLS or API key settings "
                    "for a "
                    "cluster or Temporal Cloud), and that the frontend is up",
                )
            )
        if client is not None:
            findings += await _guarded(
                "temporal",
                lambda: temporal(client),
                f"check that namespace {settings.temporal_namespace!r} exists",
            )
            for spec in task_queues(deps):
                findings += await _guarded(
                    f"task queue {spec.name}",
                    lambda spec=spec: task_queue(
                        client, spec.name, workflows=bool(spec.workflows), activities=bool(spec.activities)
                    ),
                    "check Temporal",
                )
        else:
            findings.append(_skipped("task queues", "Temporal"))
        if db_ok:
            findings += await _guarded(
                "routings", lambda: routings_needing_attention(database), "check PostgreSQL"
            )
            findings += await _guarded("platform jobs", lambda: jobs_waiting(database), "check PostgreSQL")
            findings += await _guarded("calendars", lambda: calendars_failing(database), "check PostgreSQL")
        else:
            findings += [
                _skipped(check, "PostgreSQL") for check in ("routings", "platform jobs", "calendars")
            ]
        api_fix = f"check that the API answers at TEMPOLINE_API_URL ({settings.api_url}) with the admin key"
        findings += await _guarded(
            "provider credentials", lambda: provider_credentials(deps.http, settings), api_fix
        )
        findings += await _guarded(
            "google oauth", lambda: providers.google_oauth_client(deps.http, settings), "check Google OAuth"
        )
        for check, probe in (
            ("google speech", providers.google_speech),
            ("openai", providers.openai_key),
            ("anthropic", providers.anthropic_key),
        ):
            findings += await _guarded(check, lambda probe=probe: probe(settings), f"check {check}")
        findings += await _guarded("codec endpoint", lambda: codec(deps.http, settings), api_fix)
    return Report(healthy=all(f.status is not Status.FAIL for f in findings), findings=findings)


def _print(report: Report) -> None:
    console = Console()
    colour = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.SKIPPED: "dim"}
    for f in report.findings:
        console.print(
            f"[{colour[f.status]}]{f.status.value:>7}[/]  [bold]{escape(f.check)}[/]: {escape(f.summary)}"
        )
        for line in f.details:
            console.print(f"           {escape(line)}")
        if f.fix and f.status is not Status.OK:
            console.print(f"           [bold]fix:[/] {escape(f.fix)}")
    verdict = "[green]healthy[/]" if report.healthy else "[red]something is wrong[/]: see fail above"
    console.print(verdict)


def run(as_json: bool) -> int:
    """Exit status 0 when nothing failed (warnings allowed), 1 otherwise."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
        finding = Finding(
            check="configuration",
            status=Status.FAIL,
            summary="the settings do not load",
            details=problems,
            fix="correct the variables named (environment or .env)",
        )
        report = Report(healthy=False, findings=[finding])
    else:
        report = asyncio.run(diagnose(settings))
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _print(report)
    return 0 if report.healthy else 1
