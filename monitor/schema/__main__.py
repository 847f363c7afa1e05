"""``python -m monitor.schema [--check]``: write the generated schemas, or report drift (exit 1)."""

from __future__ import annotations

import argparse
import sys

from monitor.schema import drift, render


def main(argv: list[str] | None = None) -> int:
    """Write every generated schema, or with ``--check`` list those that differ and return 1."""
    parser = argparse.ArgumentParser(prog="python -m monitor.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        for path in stale:
            print(f"{path}: differs from its model; run python -m monitor.schema", file=sys.stderr)
        return 1 if stale else 0
    for path, text in render().items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
