"""Copy what the Helm chart ships from elsewhere in the repository into ``helm/monitor``.

Helm reads no file outside the chart's directory, so the chart carries generated copies:

- ``alert_rules/*.rules.yml`` -> ``helm/monitor/files/alert_rules/`` (the PrometheusRule),
- ``dashboards/*.json`` -> ``helm/monitor/files/dashboards/`` (the dashboard ConfigMaps),
- the package version of ``pyproject.toml`` -> ``appVersion`` of ``helm/monitor/Chart.yaml``.

Usage, from anywhere::

    .venv/bin/python helm/sync.py           # write what differs, print what it wrote
    .venv/bin/python helm/sync.py --check   # exit 1 and name what differs; write nothing

Never edit the copies: change the sources and run this (tests/helm/test_chart.py fails on drift).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "monitor"
# (source directory, glob, destination directory inside the chart)
COPIES: tuple[tuple[str, str, str], ...] = (
    ("alert_rules", "*.rules.yml", "files/alert_rules"),
    ("dashboards", "*.json", "files/dashboards"),
)
_APP_VERSION = re.compile(r"^appVersion:.*$", re.MULTILINE)


@dataclass(frozen=True)
class Change:
    """One file of the chart that differs from what the sources make of it."""

    path: Path
    content: bytes | None  # None: the file should not exist
    reason: str


def _app_version_change(root: Path, chart: Path) -> Change | None:
    version = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    chart_yaml = chart / "Chart.yaml"
    text = chart_yaml.read_text(encoding="utf-8")
    wanted = f'appVersion: "{version}"'
    if not _APP_VERSION.search(text):
        return Change(chart_yaml, (text.rstrip("\n") + f"\n{wanted}\n").encode(), f"appVersion {version}")
    updated = _APP_VERSION.sub(wanted, text, count=1)
    if updated == text:
        return None
    return Change(chart_yaml, updated.encode(), f"appVersion {version}")


def changes(root: Path = ROOT, chart: Path = CHART) -> list[Change]:
    """Everything that differs between the chart's copies and their sources."""
    found: list[Change] = []
    for source_dir, pattern, target_dir in COPIES:
        sources = {path.name: path for path in sorted((root / source_dir).glob(pattern))}
        target = chart / target_dir
        for name, path in sources.items():
            content = path.read_bytes()
            copy = target / name
            if not copy.exists():
                found.append(Change(copy, content, f"missing copy of {source_dir}/{name}"))
            elif copy.read_bytes() != content:
                found.append(Change(copy, content, f"stale copy of {source_dir}/{name}"))
        if target.is_dir():
            for copy in sorted(target.glob(pattern)):
                if copy.name not in sources:
                    found.append(Change(copy, None, f"{source_dir}/{copy.name} no longer exists"))
    version = _app_version_change(root, chart)
    if version is not None:
        found.append(version)
    return found


def apply(found: Sequence[Change]) -> None:
    """Write (or remove) the files of ``found``."""
    for change in found:
        if change.content is None:
            change.path.unlink()
        else:
            change.path.parent.mkdir(parents=True, exist_ok=True)
            change.path.write_bytes(change.content)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when anything differs; write nothing")
    args = parser.parse_args(argv)
    found = changes()
    for change in found:
        where = change.path.relative_to(ROOT)
        print(f"{'differs' if args.check else 'wrote'}: {where} ({change.reason})")
    if args.check:
        if found:
            print("the chart's copies are stale: run .venv/bin/python helm/sync.py", file=sys.stderr)
        return 1 if found else 0
    apply(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
