"""The worker's Prometheus endpoint listens where TEMPOLINE_WORKER_METRICS_HOST says: in a
container, on every interface, or Prometheus in another container cannot scrape it."""

import httpx

import worker
from core.settings import Settings
from tests.conftest import free_port


async def test_the_metrics_endpoint_binds_the_configured_host(settings: Settings):
    port = free_port()
    # Another loopback address stands for "not 127.0.0.1" (Linux routes all of 127/8 to lo).
    runtime = worker.runtime(
        settings.model_copy(update={"worker_metrics_port": port, "worker_metrics_host": "127.0.0.2"})
    )
    runtime.metric_meter.create_counter("tempoline_ops_probe_total").add(1)
    async with httpx.AsyncClient() as http:
        scraped = await http.get(f"http://127.0.0.2:{port}/metrics")
    assert scraped.status_code == 200
    assert "tempoline_ops_probe_total" in scraped.text
