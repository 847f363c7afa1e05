"""``monitor provision``: make Grafana hold this repository's dashboards, alert rules and pager routing.

Prints one line per object (create / update / unchanged); ``--dry-run`` and ``--check`` add the
unified diff and write nothing (``--check`` exits 1 when anything differs). ``--dry-run`` needs no
live Grafana: with none configured, or none answering, it says so and shows the plan against an
empty Grafana (everything ``create``), so a first look at what would be provisioned needs no
access. On an error it says what was applied before it and what was not, so no half-provisioned
state goes unreported; a rerun picks up where it stopped, since unchanged objects are not written
again.

The alert rules are the monitor's own (``--rules-dir``, ``alert_rules/*.rules.yml``) and the burn alerts
of the config's ``slos:``, generated here from the config as ``monitor slo generate`` generates them
(one source: the config; the files under ``alert_rules/slo/`` are the example's, for Prometheus).
"""

from __future__ import annotations

import argparse
import sys

from monitor import __version__
from monitor.cliargs import check_url
from monitor.config import Settings, load_settings
from monitor.envvars import env
from monitor.errors import ConfigError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS
from monitor.grafana.client import Grafana, GrafanaError
from monitor.grafana.dashboards import build_dashboards
from monitor.grafana.provision import (
    UNKNOWN_DATASOURCE_UID,
    Change,
    Desired,
    apply,
    plan,
    plan_against_empty,
    unreached,
)
from monitor.grafana.rules import PromGroup, load_rule_groups, slo_rule_groups
from monitor.settings.grafana import GrafanaSpec
from monitor.slo.model import SLO


def _say(line: str = "") -> None:
    print(line, flush=True)


def _grafana_spec(settings: Settings) -> GrafanaSpec | None:
    """The Grafana to provision; None when neither the config nor the variables name one."""
    if settings.grafana is not None:  # MONITOR_GRAFANA_URL is applied there, over the file's grafana.url
        return settings.grafana
    # Without a grafana: section, the two variables alone name a Grafana to provision.
    url, token = env("MONITOR_GRAFANA_URL"), env("MONITOR_GRAFANA_TOKEN")
    if url and token:
        return GrafanaSpec(url=check_url(url, "MONITOR_GRAFANA_URL").rstrip("/"), token=token.strip())
    return None


def _rule_groups(args: argparse.Namespace, slos: tuple[SLO, ...]) -> list[PromGroup]:
    """The monitor's alert rules of ``--rules-dir``, then the SLOs' burn alerts; none with ``--no-rules``."""
    if args.no_rules:
        return []
    return [*load_rule_groups(args.rules_dir), *slo_rule_groups(slos)]


_NO_GRAFANA = (
    "add a grafana: section (url, token_file) to the config passed with --config, or set "
    "MONITOR_GRAFANA_URL and MONITOR_GRAFANA_TOKEN"
)
_ASSUMED_EMPTY = "the plan below assumes an empty Grafana, so every object reads 'create'"


def run_provision(args: argparse.Namespace) -> int:
    """Plan, print, and (unless ``--dry-run``/``--check``) apply; exit 0, 1 (drift with --check) or 3.

    ``--dry-run`` plans against an empty Grafana when none is configured or none answers, saying so.
    """
    try:
        settings = load_settings(args.config)
        spec = _grafana_spec(settings)
        if spec is None and not args.dry_run:
            raise ConfigError(f"no Grafana to provision: {_NO_GRAFANA}")
        groups = _rule_groups(args, settings.slos)
        desired = Desired(
            spec or GrafanaSpec(url="", token=""), build_dashboards(), groups,
            datasource_uid=args.datasource_uid, version=__version__,
        )  # fmt: skip
        changes = _plan(desired, configured=spec is not None, dry_run=args.dry_run)
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


def _plan(desired: Desired, *, configured: bool, dry_run: bool) -> list[Change]:
    """The plan against the configured Grafana; on a dry run, against an empty one when there is
    none to ask, with a line saying why."""
    spec = desired.spec
    if not configured:
        _say(f"no Grafana configured: {_ASSUMED_EMPTY} (to compare with yours, {_NO_GRAFANA})")
        return _empty_plan(desired)
    grafana = Grafana(spec)
    if dry_run and (error := unreached(grafana)) is not None:
        _say(f"Grafana was not reached: {error}; {_ASSUMED_EMPTY}")
        return _empty_plan(desired)
    _say(f"Grafana {grafana.url}: comparing folder {spec.folder_uid!r} with this repository")
    return plan(grafana, desired)


def _empty_plan(desired: Desired) -> list[Change]:
    if desired.rule_groups and desired.datasource_uid is None and desired.spec.datasource is None:
        _say(
            f"the alert rules' data source reads {UNKNOWN_DATASOURCE_UID}: an empty Grafana has no "
            "default Prometheus to query"
        )
    return plan_against_empty(desired)


def _names(changes: list[Change]) -> str:
    return ", ".join(f"{c.kind} {c.name}" for c in changes)
