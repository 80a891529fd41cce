"""`make bench`: run every benchmark module in bench/ in turn; each prints its BENCH lines last."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")
    )
    # Numbers are the modules' parameters (`python -m bench platform 100`: 100 jobs).
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    wanted = [a for a in sys.argv[1:] if not a.isdigit()] or names
    for name in wanted:
        print(f"== bench.{name}", flush=True)
        importlib.import_module(f"bench.{name}").main(*numbers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
