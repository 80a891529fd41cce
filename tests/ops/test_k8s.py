"""infra/k8s: every manifest valid for a current Kubernetes (the newest kubernetes-validate
knows), and shaped as operations need: probes, requests, graceful shutdown, no secret values."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from core.settings import Settings
from domain.search_attributes import cli_flags
from registry import CONTEXTS
from tests.ops.conftest import ROOT
from worker import GRACEFUL_SHUTDOWN

K8S = ROOT / "infra" / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _all() -> list[dict]:
    return [doc for path in MANIFESTS for doc in _docs(path)]


def _kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in _all() if doc["kind"] == kind}


def _pod(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_valid_for_current_kubernetes(path: Path):
    version = kubernetes_validate.latest_version()
    for doc in _docs(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in MANIFESTS]


def test_no_secret_values_are_committed():
    assert not [doc for doc in _all() if doc["kind"] == "Secret"]


def test_configuration_names_are_settings():
    known = {field.alias for field in Settings.model_fields.values()}
    assert set(_kind("ConfigMap")["tempoline-config"]["data"]) <= known
    for doc in _all():
        if doc["kind"] in ("Deployment", "Job"):
            for container in _pod(doc).get("initContainers", []) + _pod(doc)["containers"]:
                if container["image"].startswith("tempoline"):
                    names = {e["name"] for e in container.get("env", [])}
                    assert names <= known, (doc["metadata"]["name"], names - known)


def test_api_has_probes_autoscaling_and_a_disruption_budget():
    api = _pod(_kind("Deployment")["tempoline-api"])["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert "tempoline-api" in _kind("HorizontalPodAutoscaler")
    assert "tempoline-api" in _kind("PodDisruptionBudget")
    assert "tempoline-api" in _kind("Service")


def test_one_worker_deployment_per_context_outliving_its_graceful_shutdown():
    deployments = _kind("Deployment")
    for context in CONTEXTS:
        worker = deployments[f"tempoline-worker-{context}"]
        pod = _pod(worker)
        assert pod["containers"][0]["command"][-2:] == ["--queues", context]
        assert pod["terminationGracePeriodSeconds"] > GRACEFUL_SHUTDOWN.total_seconds()
        assert f"tempoline-worker-{context}" in _kind("HorizontalPodAutoscaler")
    workers = {name for name in deployments if name.startswith("tempoline-worker-")}
    assert workers == {f"tempoline-worker-{c}" for c in CONTEXTS}


def test_every_container_requests_resources():
    for doc in _all():
        if doc["kind"] in ("Deployment", "Job"):
            pod = _pod(doc)
            for container in pod.get("initContainers", []) + pod["containers"]:
                assert container["resources"]["requests"], doc["metadata"]["name"]


def test_the_setup_job_registers_every_search_attribute():
    args = " ".join(_pod(_kind("Job")["tempoline-temporal-setup"])["containers"][0]["args"])
    assert all(f" {attribute}" in args for attribute in cli_flags()[1::2]), args


def test_the_temporal_helm_values_keep_persistence_and_visibility_on_postgresql():
    values = yaml.safe_load((ROOT / "infra" / "helm" / "temporal-values.yaml").read_text())
    persistence = values["server"]["config"]["persistence"]
    assert {persistence[store]["sql"]["driver"] for store in ("default", "visibility")} == {"postgres12"}
    assert values["web"]["additionalEnv"][0]["name"] == "TEMPORAL_CODEC_ENDPOINT"
    assert not values["cassandra"]["enabled"] and not values["elasticsearch"]["enabled"]
