"""bench.platform runs end to end on a tiny load, as `make bench` runs it (its own stack: PostgreSQL,
Temporal, the API, workers and two executors), and prints its figures last."""

import subprocess
import sys


def test_the_platform_bench_runs_end_to_end() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "platform", "4", "1"], capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = [line.split() for line in run.stdout.splitlines() if line.startswith("BENCH platform")]
    assert [f[2] for f in figures] == [
        "jobs_per_s",
        "start_latency_p50_ratio",
        "start_latency_p99_ratio",
        "log_mb_per_s",
    ]
    assert "WARNING: the log job's output" not in run.stdout, run.stdout
    logs = figures[-1]
    assert float(logs[logs.index("follow_lag_s") + 1]) < 5, logs  # the stream ends with the job
