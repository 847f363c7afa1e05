"""Service level objectives: the model and the Prometheus rules generated from it (pure).

:mod:`monitor.slo.model` is an SLO as the config's ``slos:`` section gives it (Sloth/Pyrra
conventions); :mod:`monitor.slo.rules` turns one into recording rules, the Google SRE workbook's
multi-window multi-burn-rate alerts and promtool unit tests for them (``monitor slo generate``).
"""

from monitor.slo.model import SLO, WINDOW_PLACEHOLDER, WINDOWS_DAYS, SliCheck
from monitor.slo.rules import BURN_ALERTS, RECORDED_WINDOWS, BurnAlert, burn_factor, rule_file, unit_test_file

__all__ = [
    "BURN_ALERTS",
    "RECORDED_WINDOWS",
    "SLO",
    "WINDOWS_DAYS",
    "WINDOW_PLACEHOLDER",
    "BurnAlert",
    "SliCheck",
    "burn_factor",
    "rule_file",
    "unit_test_file",
]
