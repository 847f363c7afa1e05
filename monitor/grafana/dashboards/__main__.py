"""``python -m monitor.grafana.dashboards [--check] [--out DIR]``: regenerate or check the dashboards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.grafana.dashboards import REGENERATE, check_dashboards, write_dashboards


def main(argv: list[str] | None = None) -> int:
    """Write the dashboards (exit 0), or with ``--check`` exit 1 when the files drift from the code."""
    parser = argparse.ArgumentParser(prog="python -m monitor.grafana.dashboards", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="do not write: exit 1 if a file is missing or out of date"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("dashboards"),
        help="directory of the JSON files (default: dashboards/ under the current directory)",
    )
    args = parser.parse_args(argv)
    directory: Path = args.out
    if args.check:
        drifted = check_dashboards(directory)
        if drifted:
            fix = REGENERATE if directory == Path("dashboards") else f"{REGENERATE} --out {directory}"
            print(
                f"missing or out of date in {directory.resolve()}: {', '.join(drifted)}; run: {fix}",
                file=sys.stderr,
            )
            return 1
        print(f"{directory}/ is up to date")
        return 0
    for path in write_dashboards(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
