"""``monitor provision``: make Grafana hold this repository's dashboards, alert rules and pager routing.

Prints one line per object (create / update / unchanged); ``--dry-run`` and ``--check`` add the
unified diff and write nothing (``--check`` exits 1 when anything differs). On an error it says
what was applied before it and what was not, so no half-provisioned state goes unreported; a
rerun picks up where it stopped, since unchanged objects are not written again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor import __version__
from monitor.cliargs import check_url
from monitor.config import load_settings
from monitor.envvars import env
from monitor.errors import ConfigError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS
from monitor.grafana.client import Grafana, GrafanaError
from monitor.grafana.dashboards import build_dashboards
from monitor.grafana.provision import Change, Desired, apply, plan
from monitor.grafana.rules import load_rule_groups
from monitor.settings.grafana import GrafanaSpec


def _say(line: str = "") -> None:
    print(line, flush=True)


def _grafana_spec(config: Path | None) -> GrafanaSpec:
    settings = load_settings(config)  # MONITOR_GRAFANA_URL is applied there, over the file's grafana.url
    if settings.grafana is not None:
        return settings.grafana
    # Without a grafana: section, the two variables alone name a Grafana to provision.
    url, token = env("MONITOR_GRAFANA_URL"), env("MONITOR_GRAFANA_TOKEN")
    if url and token:
        return GrafanaSpec(url=check_url(url, "MONITOR_GRAFANA_URL").rstrip("/"), token=token.strip())
    raise ConfigError(
        "no Grafana to provision: add a grafana: section (url, token_file) to the config passed with "
        "--config, or set MONITOR_GRAFANA_URL and MONITOR_GRAFANA_TOKEN"
    )


def run_provision(args: argparse.Namespace) -> int:
    """Plan, print, and (unless ``--dry-run``/``--check``) apply; exit 0, 1 (drift with --check) or 3."""
    try:
        spec = _grafana_spec(args.config)
        groups = [] if args.no_rules else load_rule_groups(args.rules_dir)
        desired = Desired(
            spec, build_dashboards(), groups, datasource_uid=args.datasource_uid, version=__version__
        )
        grafana = Grafana(spec)
        _say(f"Grafana {grafana.url}: comparing folder {spec.folder_uid!r} with this repository")
        changes = plan(grafana, desired)
    except MonitorError as exc:
        print(f"monitor provision: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    read_only = args.dry_run or args.check
    for change in changes:
        _say(change.line())
        if read_only and change.diff:
            _say(change.diff.rstrip("\n"))
    drift = [c for c in changes if c.drift]
    if read_only:
        _say(f"{len(drift)} of {len(changes)} objects differ from the repository")
        return EXIT_FAIL if (args.check and drift) else EXIT_PASS
    applied: list[Change] = []
    try:
        applied = apply(changes, progress=lambda c: _say(f"applied   {c.kind} {c.name}"))
    except GrafanaError as exc:
        pending = [c for c in drift if c not in applied]
        print(f"monitor provision: error: {exc}", file=sys.stderr)
        print(f"applied before the error: {_names(applied) or 'nothing'}", file=sys.stderr)
        print(f"not applied: {_names(pending)}", file=sys.stderr)
        print("fix the cause and rerun monitor provision (it writes only what differs)", file=sys.stderr)
        return EXIT_ERROR
    _say(f"provisioned: {len(applied)} written, {len(changes) - len(applied)} unchanged")
    return EXIT_PASS


def _names(changes: list[Change]) -> str:
    return ", ".join(f"{c.kind} {c.name}" for c in changes)
