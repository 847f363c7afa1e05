"""Grafana dashboards as code (grafana-foundation-sdk), generated into the repository's ``dashboards/``.

Four dashboards, tagged ``deploy-monitor`` and linked to each other: ``deployments`` (the fleet's
verdicts), ``deployment-detail`` (one canary against its baseline, a panel per check of the
default profile), ``monitor-health`` (the monitor itself) and ``slo`` (one SLO's error budget and
burn rates, from the SLO rules' recordings). ``python -m monitor.grafana.dashboards``
writes them; ``--check`` fails when the committed files differ from what the code builds.
"""

from __future__ import annotations

import json
from pathlib import Path

from monitor.grafana.dashboards import deployments, detail, health, slo
from monitor.profiles import DEFAULT_PROFILE, Profile, load_profile

REGENERATE = "python -m monitor.grafana.dashboards"


def build_dashboards(profile: Profile | None = None) -> dict[str, dict[str, object]]:
    """Every dashboard's JSON model by file stem; the detail panels follow ``profile`` (default otel-http)."""
    profile = profile or load_profile(DEFAULT_PROFILE)
    return {
        deployments.STEM: deployments.build(),
        detail.STEM: detail.build(profile),
        health.STEM: health.build(),
        slo.STEM: slo.build(),
    }


def render(model: dict[str, object]) -> str:
    """A dashboard's file content: sorted keys and an indent of 2, so diffs stay small and stable."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_dashboards(directory: Path) -> list[Path]:
    """Write every dashboard to ``directory/<stem>.json`` (created if missing); return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, model in build_dashboards().items():
        path = directory / f"{stem}.json"
        path.write_text(render(model), encoding="utf-8")
        paths.append(path)
    return paths


def check_dashboards(directory: Path) -> list[str]:
    """File names in ``directory`` that are missing or differ from what the code builds."""
    drifted = []
    for stem, model in build_dashboards().items():
        path = directory / f"{stem}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(model):
            drifted.append(path.name)
    return drifted


__all__ = ["REGENERATE", "build_dashboards", "check_dashboards", "render", "write_dashboards"]
