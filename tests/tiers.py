"""The test tiers (CONTRIBUTING.md): which tests ``make test-fast`` leaves out, and why.

``make test-fast`` deselects the markers ``prometheus``, ``alertmanager``, ``postgres``, ``subprocess`` and
``slow``; ``make test`` runs everything. A test is marked by what it uses, so a new test lands in the right
tier without a decorator: the fixtures that start a real server mark it (:data:`MARK_BY_FIXTURE`), and so
does a ``"postgresql"`` backend parameter. What is slow or leaves the process for another reason is listed in
:data:`MARKS` with the reason; measure with ``pytest --durations=0`` before adding to it. ``conftest.py``
applies :func:`tier_markers` to every collected test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARK_BY_FIXTURE: dict[str, str] = {
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "postgres_database": "postgres",
    "replicas_of": "subprocess",
}

# A directory ("helm/"), a module, or "module::test" (all its parameters), below tests/ -> (marker, why).
MARKS: dict[str, tuple[str, str]] = {
    "helm/": ("slow", "renders the chart with Helm and builds the image's steps"),
    "fuzz/": ("slow", "hypothesis: 60 examples per parser"),
    "test_alert_rules.py": ("subprocess", "runs promtool"),
    "slo/test_slo_promtool.py": ("subprocess", "runs promtool on freshly generated SLO rules"),
    "commands/test_cli_startup.py": ("subprocess", "runs the CLI in subprocesses"),
    "otlp/test_amplification.py": ("subprocess", "runs a daemon and measures its memory"),
    "commands/test_analyze_imports.py": (
        "subprocess",
        "runs the CLI in fresh interpreters to see their imports",
    ),
    "bench/test_logs_smoke.py": ("subprocess", "runs the log bench as a command"),
    "probes/test_probe_tls.py": ("subprocess", "makes a self-signed certificate with openssl"),
    "backtest/test_backtest_cli.py::test_end_to_end_on_a_simulated_history": (
        "slow",
        "backfills three days of history and backtests them (about 40 s)",
    ),
    "api/test_report_browser.py::test_chromium_renders_each_report": (
        "subprocess",
        "renders the report in headless Chromium",
    ),
    "stats/test_exact.py::test_sums_of_strata_by_fft_agree_with_direct_convolution": (
        "slow",
        "a sweep of stratum sizes",
    ),
    "stats/test_distribution.py::test_identical_distributions_rarely_alarm_over_repeated_looks": (
        "slow",
        "a false-alarm rate over many simulated runs",
    ),
    "stats/test_autocorr.py::test_batch_means_tame_false_alarms_on_correlated_noise": (
        "slow",
        "a false-alarm rate over many simulated runs",
    ),
    "stats/test_counts.py::test_false_alarms_stay_below_alpha_with_twenty_looks": (
        "slow",
        "a false-alarm rate over many simulated runs",
    ),
}


def tier_markers(item: Any, tests_dir: Path) -> set[str]:
    """The tier markers of a collected test ``item`` (a ``pytest.Item``): from its fixtures, its
    parameters and :data:`MARKS` (keys relative to ``tests_dir``)."""
    markers = {MARK_BY_FIXTURE[name] for name in getattr(item, "fixturenames", ()) if name in MARK_BY_FIXTURE}
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in callspec.params.values():
        markers.add("postgres")
    path = Path(item.path)
    if path.is_relative_to(tests_dir):
        module = path.relative_to(tests_dir).as_posix()
        keys = {module, f"{module}::{item.name.partition('[')[0]}"}
        keys.update(f"{parent.as_posix()}/" for parent in Path(module).parents if parent != Path("."))
        markers.update(MARKS[key][0] for key in keys & MARKS.keys())
    return markers
