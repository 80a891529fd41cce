"""docs/runbook.md covers every symptom of the old services' troubleshooting guides (issue #16's
list), each section says what rules it out or what diagnoses it, and the alerts it names exist.
(Its `bash` blocks run against the dev stack in tests/integration/test_docs.py.)"""

import re

import yaml

from tests.ops.conftest import ROOT

RUNBOOK = (ROOT / "docs" / "runbook.md").read_text()

# The symptoms as issue #16 lists them.
SYMPTOMS = (
    "database connection timeouts",
    "pool exhaustion",
    "cache connection failures",
    "stale cache",
    "OAuth invalid credentials",
    "token refresh failures",
    "calendar API rate limits",
    "calendar sync failures",
    "partial syncs",
    "sync timeouts",
    "large calendars exhausting memory",
    "message-queue consumer lag",
    "stuck messages",
    "dead-letter queues",
    "duplicate messages",
    "memory leaks",
    "high CPU",
    "start-up failures from missing configuration",
    "flaky tests from shared test databases",
    "service unavailable",
    "crash loops",
    "high error rates from AI-provider rate limits or authentication",
    "high latency",
    "transcription failures",
    "transcription quality",
    "analysis failures",
    "analysis timeouts",
    "real-time streaming connection failures",
    "migration failures",
    "schema mismatches",
    "tasks stuck in a queue",
    '"clear the queues"',
    "provider authentication failures with routings stuck in pending and high retry counts",
    "rate limit exceeded",
    "queue workers not available",
    "failed tasks needing a retry",
    "jobs created but not routed",
    "jobs never executed",
    "workers not registering",
    "heartbeats NULL",
    "stale workers",
    "lifecycle event gaps in the audit log",
    "port conflicts at start-up",
    "a missing database extension",
    "tracing a request end to end by correlation id",
    "a complete system reset",
)


def _sections() -> dict[str, str]:
    """Each `###` heading with the text under it, up to the next heading."""
    parts = re.split(r"^(#{2,3} .+)$", RUNBOOK, flags=re.M)
    return {parts[i].lstrip("# ").strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_symptom_has_a_heading_or_a_table_row():
    lines = [line.lower() for line in RUNBOOK.splitlines() if line.startswith(("#", "|"))]
    missing = [s for s in SYMPTOMS if not any(s.lower() in line for line in lines)]
    assert not missing, missing


def test_every_symptom_section_rules_it_out_or_names_what_diagnoses_it():
    # A diagnosis is a command (doctor, the Temporal CLI, an API call, a tempoline command) or an
    # alert; otherwise the section says what makes the symptom impossible.
    diagnosis = re.compile(
        r"tempoline \w+|curl |GET /|POST /|\*\*Alerts?\*\*|impossible by construction", re.I
    )
    sections = _sections()
    for symptom in SYMPTOMS:
        found = [body for heading, body in sections.items() if symptom.lower() in heading.lower()]
        assert found, symptom
        assert any(diagnosis.search(body) for body in found), symptom


def test_the_alerts_named_exist():
    rules = (ROOT / "infra" / "prometheus" / "rules").glob("*.yml")
    alerts = {
        rule["alert"]
        for path in rules
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }
    named = set(re.findall(r"`(Tempo(?:line|ral)[A-Z]\w+)`", RUNBOOK))
    assert named and named <= alerts, named - alerts
