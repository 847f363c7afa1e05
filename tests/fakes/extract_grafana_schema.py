"""Make ``grafana_bodies.schema.json`` from Grafana's published OpenAPI spec, or check that it is current.

Usage, from the repository root::

    .venv/bin/python tests/fakes/extract_grafana_schema.py [--check] [SPEC]

``SPEC`` is the published Swagger 2.0 document (``grafana-openapi.json``); without it the first found of
``$MONITOR_REFERENCE_DIR/grafana-openapi.json`` and ``../shared/reference/grafana-openapi.json`` beside the
repository is used. The schema keeps the bodies of the operations in ``fakes.grafana.ROUTES``; run this after
adding a route to the fake or moving to a newer spec (``docs/integrations.md``). ``--check`` writes nothing
and exits 1 when the file differs from what the spec gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Run as a script, the fakes import as the package "fakes" from tests/, and they import the monitor.
_TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_TESTS), str(_TESTS.parent)]

from fakes.grafana import DOCUMENTED_ROUTES  # noqa: E402
from fakes.grafana_spec import (  # noqa: E402
    BODIES_SCHEMA,
    extract_bodies,
    published_spec_candidates,
    published_spec_path,
)


def render(spec_text: str) -> str:
    """The text of ``grafana_bodies.schema.json`` for the published spec's text."""
    return json.dumps(extract_bodies(spec_text, DOCUMENTED_ROUTES), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("spec", nargs="?", type=Path, help="the published grafana-openapi.json")
    parser.add_argument("--check", action="store_true", help="exit 1 when the vendored schema is stale")
    args = parser.parse_args(argv)
    spec = args.spec or published_spec_path()
    if spec is None:
        looked = ", ".join(str(p) for p in published_spec_candidates())
        parser.error(f"no published spec given or found (looked at {looked})")
    text = render(spec.read_text(encoding="utf-8"))
    if args.check:
        current = json.loads(BODIES_SCHEMA.read_text(encoding="utf-8")) if BODIES_SCHEMA.exists() else None
        if current != json.loads(text):
            print(f"{BODIES_SCHEMA.name} is stale against {spec}; re-run without --check", file=sys.stderr)
            return 1
        print(f"{BODIES_SCHEMA.name} matches {spec}")
        return 0
    BODIES_SCHEMA.write_text(text, encoding="utf-8")
    print(f"wrote {BODIES_SCHEMA} from {spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
