"""infra/grafana: the dashboards the compose file provisions load as Grafana reads them: valid
JSON, distinct uids, and every panel on the provisioned Prometheus data source. (Their metric
names are checked against a live stack by test_metric_names.)"""

import json

import yaml

from tests.ops.conftest import ROOT

GRAFANA = ROOT / "infra" / "grafana"


def test_dashboards_use_the_provisioned_data_source():
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = sources["datasources"][0]["uid"]
    dashboards = [json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]
    assert {
        "tempoline-api",
        "tempoline-routing",
        "tempoline-platform",
        "tempoline-temporal-workers",
        "tempoline-interviews",
    } <= {d["uid"] for d in dashboards}
    assert len({d["uid"] for d in dashboards}) == len(dashboards)
    for dashboard in dashboards:
        panels = dashboard["panels"]
        assert len({p["id"] for p in panels}) == len(panels), dashboard["uid"]
        for panel in panels:
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, (
                dashboard["uid"],
                panel["title"],
            )
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
