"""infra/prometheus: the rules load (`promtool check rules`), each file has unit tests that fire
and hold its alerts (`promtool test rules`), and every alert points at a runbook section."""

import re
import subprocess

import yaml

from tests.ops.conftest import ROOT

PROMETHEUS = ROOT / "infra" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TESTS = sorted((PROMETHEUS / "tests").glob("*_test.yml"))


def _promtool(promtool: str, *args: str) -> None:
    result = subprocess.run([promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_load(promtool: str):
    _promtool(promtool, "check", "rules", *map(str, RULES))
    _promtool(promtool, "check", "config", "--syntax-only", "prometheus.yml")


def test_rules_unit_tests_pass(promtool: str):
    assert [t.name for t in TESTS] == [f"{r.stem}_test.yml" for r in RULES]
    _promtool(promtool, "test", "rules", *map(str, TESTS))


def test_every_alert_is_unit_tested_and_has_a_runbook_section():
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", (ROOT / "docs" / "runbook.md").read_text(), re.M)
    }
    tested = {
        case["alertname"]
        for t in TESTS
        for test in yaml.safe_load(t.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert rule["alert"] in tested, rule["alert"]
                runbook = rule["annotations"]["runbook"]
                assert runbook.startswith("docs/runbook.md#") and runbook.split("#")[1] in anchors, runbook
