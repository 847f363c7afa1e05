"""``monitor slo generate``: write each SLO's Prometheus rules and their promtool unit tests.

For every entry of the config's ``slos:`` it writes ``<slo>.slo.rules.yml`` (recording rules and
multi-window multi-burn-rate alerts, :mod:`monitor.slo.rules`) into ``--out`` and
``tests/<slo>.slo.test.yml`` beside it; ``promtool test rules`` runs the tests from ``tests/``.
Only the file's shape and the ``slos:`` section are read: no secret, no Prometheus.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_PASS
from monitor.slo.rules import rule_file, rule_file_name, unit_test_file, unit_test_file_name

# Beside the monitor's own rules, not among them: alert_rules/*.rules.yml are the monitor's alerts
# (each with its own runbook section; tests/test_alert_rules.py), the SLO files have recording rules.
DEFAULT_OUT = Path("alert_rules/slo")


def generate(config: Path, out: Path) -> list[Path]:
    """Write the rule and test files of every SLO of ``config`` into ``out``; the paths written."""
    from monitor.config.file import read_slos  # the config's models load only here (as analyze's)

    slos = read_slos(config)
    if not slos:
        raise InputError(f"{config}: no slos: section; add one (docs/configuration.md, SLOs)")
    written: list[Path] = []
    (out / "tests").mkdir(parents=True, exist_ok=True)
    for slo in slos:
        for path, text in (
            (out / rule_file_name(slo), rule_file(slo)),
            (out / "tests" / unit_test_file_name(slo), unit_test_file(slo)),
        ):
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def run_slo(args: argparse.Namespace) -> int:
    """``monitor slo generate``: the written paths on stdout; errors are one line on stderr, exit 3."""
    try:
        if args.config is None:
            raise InputError("no config file: pass --config FILE or set MONITOR_CONFIG")
        written = generate(Path(args.config), Path(args.out))
    except (MonitorError, OSError) as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for path in written:
        print(f"wrote {path}")
    return EXIT_PASS
