"""``python -m emulators --host 127.0.0.1 --port 8400``: serve every emulated provider."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from emulators.providers import PROVIDERS
from emulators.runner import run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators", description="Local emulators of tempoline's external APIs."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help="serve the gRPC providers (Speech-to-Text) on this port (default: no gRPC server)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ["EMULATOR_DATA_DIR"]) if os.environ.get("EMULATOR_DATA_DIR") else None,
        help="where providers that persist (google) keep their state across restarts "
        "(default: $EMULATOR_DATA_DIR, else in memory only)",
    )
    parser.add_argument(
        "--providers",
        default=None,
        help=f"comma-separated subset of {','.join(PROVIDERS)} (default: all)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    providers = [p.strip() for p in args.providers.split(",") if p.strip()] if args.providers else None
    run(
        args.host,
        args.port,
        grpc_port=args.grpc_port,
        log_level=args.log_level,
        providers=providers,
        data_dir=args.data_dir,
    )


if __name__ == "__main__":
    main()
