"""The README, docs/routing.md, docs/platform.md (its CLI section), docs/scheduling.md,
docs/interviews.md and docs/runbook.md (its diagnosing commands) as a newcomer follows them:
every ```bash block runs, in order, as written, from the folder that holds `.tempoline/`, against
a dev stack started with `make dev`.

Blocks fenced ```bash are the walk-through; ```sh marks commands the reader runs outside it (starting
the stack, the test suite), ```text what is illustrative. Each file runs in a fresh shell, with the
environment a user who moved the stack's ports would have, `set -euo pipefail`, and `curl` failing
on an HTTP error (its body printed) so a wrong example cannot pass unnoticed.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_dev_stack import ROOT, _ctrl_c, _ports, _start, _wait_ready

DOCS = (
    "README.md",
    "docs/routing.md",
    "docs/platform.md",
    "docs/scheduling.md",
    "docs/interviews.md",
    "docs/runbook.md",
)
BLOCK = re.compile(r"^```bash\n(.*?)^```$", re.DOTALL | re.MULTILINE)
PRELUDE = """set -euo pipefail
trap 'echo "FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
curl() { command curl --fail-with-body --max-time 30 "$@"; }
"""


def walk_through(doc: str) -> str:
    """The doc's ```bash blocks as one script, each introduced by where it comes from."""
    text = (ROOT / doc).read_text()
    parts = [PRELUDE]
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        parts.append(f"echo; echo '### {doc}:{line}'\n{match.group(1)}")
    return "\n".join(parts)


@pytest.mark.slow
def test_readme_and_routing_guide_run_as_written(tmp_path: Path):
    # The reader's folder: the stack's state in .tempoline/ and the project's .venv beside it.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    home = tmp_path / ".tempoline"
    ports = _ports()
    process = _start(home, ports)
    try:
        _wait_ready(f"http://127.0.0.1:{ports['api']}", process)
        user_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TEMPOLINE_", "DATABASE_URL", "TEMPORAL_"))
        } | {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{ports['grpc']}",
            "TEMPOLINE_API_PORT": str(ports["api"]),
            "TEMPOLINE_EMULATORS_PORT": str(ports["emu"]),
        }
        for doc in DOCS:
            script = walk_through(doc)
            result = subprocess.run(
                ["bash", "-c", script],
                cwd=tmp_path,
                env=user_env,
                capture_output=True,
                text=True,
                timeout=150,
            )
            assert result.returncode == 0, f"{doc}:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    finally:
        _ctrl_c(process)
