"""Command-line parsing only; each command's work lives in :mod:`monitor.commands`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from monitor.cliargs import BASELINE_CHOICES, url_type
from monitor.envvars import env, env_flag, help_epilog
from monitor.exitcodes import EXIT_ERROR
from monitor.pipes import stdout_may_close


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs as written (their examples keep their lines); each flag's help ends with its default.

    A default is added when the help does not already say it, and only when there is one: None and
    False (an unset flag) have nothing to show.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or action.required
            or default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


class _VersionAction(argparse.Action):
    """``monitor --version``: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **_: object) -> None:
        help_text = "print the version and exit"
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help_text)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"monitor {package_version()}")
        parser.exit(0)


def package_version() -> str:
    """The installed package's version; ``monitor.__version__`` when it is not installed."""
    from importlib import metadata  # imported here: only --version pays for it

    try:
        return metadata.version("monitor")
    except metadata.PackageNotFoundError:
        from monitor import __version__

        return __version__


class _Parser(argparse.ArgumentParser):
    """argparse that exits with our error code (3) and a one-line reason."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"monitor: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    """The ``monitor`` command line."""
    parser = _Parser(
        prog="monitor",
        description="Deployment health monitor.",
        epilog=help_epilog(),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    analyze = commands.add_parser(
        "analyze",
        help="compare a canary version with its baseline once and print the verdict",
        description="Exit codes: 0 pass, 1 fail, 2 marginal or inconclusive, 3 error.",
        epilog=ANALYZE_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    _prometheus_and_service(analyze)
    analyze.add_argument("--canary-version", required=True, metavar="V", help="the new version")
    analyze.add_argument("--baseline-version", required=True, metavar="V", help="the version it replaces")
    analyze.add_argument("--start", required=True, metavar="TIME", help=f"canary window start: {TIME_HELP}")
    analyze.add_argument("--end", required=True, metavar="TIME", help=f"canary window end: {TIME_HELP}")
    analyze.add_argument(
        "--baseline-start", metavar="TIME",
        help="before/after mode: baseline window start, a TIME as --start (default: none, the versions "
        "side by side over --start..--end)",
    )  # fmt: skip
    analyze.add_argument(
        "--baseline-end", metavar="TIME", help="before/after mode: baseline window end (default: none)"
    )
    analyze.add_argument(
        "--baseline", choices=BASELINE_CHOICES,
        help="before/after mode instead of --baseline-start/--baseline-end: the baseline version just "
        "before --start for as long (previous), over --start..--end a day or a week earlier (day, week), "
        "or auto: the profile's calibration, else previous (default: none)",
    )  # fmt: skip
    _profile_and_config(analyze)
    analyze.add_argument(
        "--interval", metavar="DURATION",
        help="replay the daemon's looks every DURATION, e.g. 60s or 1m (default: one look at --end)",
    )  # fmt: skip
    analyze.add_argument("--output", choices=("text", "json"), default="text", help="verdict format")
    analyze.add_argument(
        "--probe", metavar="NAME|URL", action="append",
        help="also run a smoke probe once, now (live even for a past window), and judge it; repeatable: "
        "a configured probe's name, all (every configured probe for the service and environment), or "
        "an http(s) URL probed 3 times 10 s apart, failing at 3 failures in a row (default: none)",
    )  # fmt: skip
    analyze.add_argument(
        "--loki-url", metavar="URL", default=env("MONITOR_LOKI_URL"),
        type=url_type("MONITOR_LOKI_URL"),
        help="also judge logs read from this Loki (env MONITOR_LOKI_URL; default: the config's, else none)",
    )  # fmt: skip
    analyze.add_argument(
        "--loki-selector", metavar="LOGQL",
        help="LogQL selecting one version, with $service and $version; the default, "
        '{service_name="$service"} | service_version="$version", finds the version as a label '
        "or as structured metadata",
    )  # fmt: skip
    analyze.add_argument(
        "--tempo-url", metavar="URL", default=env("MONITOR_TEMPO_URL"),
        type=url_type("MONITOR_TEMPO_URL"),
        help="also judge traces read from this Tempo (env MONITOR_TEMPO_URL; default: the config's)",
    )  # fmt: skip
    analyze.add_argument(
        "--jaeger-url", metavar="URL", default=env("MONITOR_JAEGER_URL"),
        type=url_type("MONITOR_JAEGER_URL"),
        help="or from this Jaeger query service, v3 API or legacy (env MONITOR_JAEGER_URL; default: none)",
    )  # fmt: skip

    serve = commands.add_parser(
        "serve", help="run the daemon: the HTTP API and the engine loop", epilog=SERVE_EXAMPLE,
        formatter_class=_HelpFormatter,
    )  # fmt: skip
    serve.add_argument(
        "--listen", metavar="HOST:PORT", default=env("MONITOR_LISTEN"),
        help="address to serve on (env MONITOR_LISTEN; default: 127.0.0.1:8080)",
    )  # fmt: skip
    serve.add_argument(
        "--prometheus-url", metavar="URL", default=env("MONITOR_PROMETHEUS_URL"),
        type=url_type("MONITOR_PROMETHEUS_URL"),
        help="Prometheus base URL (env MONITOR_PROMETHEUS_URL; default: prometheus.url in --config)",
    )  # fmt: skip
    serve.add_argument(
        "--database", metavar="URL", default=env("MONITOR_DATABASE"),
        help="sqlite:///FILE or postgresql://... for several replicas (env MONITOR_DATABASE; "
        "default: sqlite:///monitor.db)",
    )  # fmt: skip
    serve.add_argument(
        "--config", metavar="FILE", default=env("MONITOR_CONFIG"),
        help="settings YAML, with the API tokens under tokens: (env MONITOR_CONFIG; default: none)",
    )  # fmt: skip
    serve.add_argument(
        "--lease", metavar="DURATION", default=env("MONITOR_LEASE"),
        help="how long a replica holds a deployment without renewing; a dead one is replaced after it "
        "(env MONITOR_LEASE; default: 30s)",
    )  # fmt: skip
    serve.add_argument(
        "--engine",
        choices=("process", "inline"),
        default=env("MONITOR_ENGINE"),
        help="run the evaluation engine in its own process (keeps the API responsive) "
        "or inline in the API's process (env MONITOR_ENGINE; default: process)",
    )
    serve.add_argument(
        "--insecure-no-auth", action="store_true",
        default=env_flag("MONITOR_INSECURE_NO_AUTH"),
        help="serve without API tokens, local development only (env MONITOR_INSECURE_NO_AUTH; default: off)",
    )  # fmt: skip

    gate = commands.add_parser(
        "gate",
        help="register a deployment with the daemon and wait for its verdict",
        description="Exit codes: 0 pass, 1 fail, 2 marginal, inconclusive or timeout, 3 error.",
        epilog=GATE_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    gate.add_argument(
        "--url", metavar="URL", default=env("MONITOR_URL"),
        type=url_type("MONITOR_URL"),
        help="the daemon's base URL (env MONITOR_URL; default: http://127.0.0.1:8080)",
    )  # fmt: skip
    gate.add_argument(
        "--deployment-id", metavar="ID",
        help="attach to a registered deployment instead (default: register one)",
    )  # fmt: skip
    gate.add_argument(
        "--token-file", metavar="FILE",
        help="file holding the API token (default: the variable MONITOR_TOKEN, else no token)",
    )  # fmt: skip
    gate.add_argument("--service", metavar="NAME", help=f"service name in the metrics{_UNLESS_ID}")
    gate.add_argument("--environment", metavar="ENV", help=f"e.g. staging or production{_UNLESS_ID}")
    gate.add_argument("--version", metavar="V", help=f"the new version{_UNLESS_ID}")
    gate.add_argument("--baseline-version", metavar="V", help=f"the version it replaces{_UNLESS_ID}")
    gate.add_argument(
        "--strategy", choices=("canary", "bluegreen", "rolling"), default="canary", help="how it is deployed"
    )
    gate.add_argument(
        "--baseline", choices=BASELINE_CHOICES,
        help="bluegreen and rolling: the old version's window just before the deploy (previous), the same "
        "window a day or a week earlier (day, week), or auto (default: the environment's, else previous)",
    )  # fmt: skip
    gate.add_argument(
        "--probe", metavar="NAME|URL", action="append",
        help="a smoke probe of this deployment (repeatable): a probe configured in the daemon, or an "
        "http(s) URL on a host the daemon's probe_hosts allows (default: the configured probes that "
        "apply to the service and environment)",
    )  # fmt: skip
    gate.add_argument(
        "--preview", metavar="URL",
        help="bluegreen: where the new version answers before the switch; the verdict judges it there, "
        "by its probes, so the switch waits for the gate (default: none, judged after the switch)",
    )  # fmt: skip
    gate.add_argument(
        "--started-at", metavar="TIME",
        help="when the deploy started: RFC 3339, Unix seconds, or now-5m (default: now)",
    )  # fmt: skip
    gate.add_argument(
        "--max-duration", metavar="DURATION",
        help="analyse for at most this long (default: the environment's maximum)",
    )  # fmt: skip
    gate.add_argument(
        "--label", metavar="KEY=VALUE", action="append",
        help="a registration label (repeatable): a Prometheus label name adds a query matcher, a "
        "prefixed key (rollback/feature-flag=...) is metadata for rollback actions (default: none)",
    )  # fmt: skip
    gate.add_argument(
        "--idempotency-key", metavar="KEY", default=env("MONITOR_IDEMPOTENCY_KEY"),
        help="registers at most once per key, e.g. the CI build id (env MONITOR_IDEMPOTENCY_KEY; "
        "default: one per gate run)",
    )  # fmt: skip
    gate.add_argument(
        "--timeout", metavar="DURATION", default="2h",
        help="give up waiting after this long, longer than production's default analysis of 62 minutes "
        "(default: 2h)",
    )  # fmt: skip
    link = commands.add_parser(
        "report-link",
        help="print a fresh signed, expiring link to a deployment's report (or to the index page)",
        description="Signs with the daemon's report-link key on its public_url; asks no daemon. "
        "Exit codes: 0 printed, 3 error.",
        epilog=REPORT_LINK_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    link.add_argument(
        "deployment_id", metavar="ID", nargs="?", help="the deployment's id (required unless --index)"
    )
    link.add_argument("--index", action="store_true", help="a link to the deployments index page instead")
    link.add_argument(
        "--lifetime", metavar="DURATION",
        help="how long the link works, e.g. 24h, at most 90 days (default: report_links.lifetime_s, 7 days)",
    )  # fmt: skip
    link.add_argument(
        "--config", metavar="FILE", type=Path, default=_env_path("MONITOR_CONFIG"),
        help="settings YAML with report_links: and public_url (env MONITOR_CONFIG; default: none)",
    )  # fmt: skip
    provision = commands.add_parser(
        "provision",
        help="provision Grafana: folder, data source, dashboards, alert rules, pager routing",
        description="Idempotent; writes only what differs. Exit codes: 0 ok (or no drift), 1 drift "
        "found (with --check), 3 error. Grafana comes from the config's grafana: section, or from "
        "MONITOR_GRAFANA_URL and MONITOR_GRAFANA_TOKEN.",
        epilog=PROVISION_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    provision.add_argument(
        "--config", metavar="FILE", type=Path, default=_env_path("MONITOR_CONFIG"),
        help="settings YAML with the grafana: section (env MONITOR_CONFIG; default: none)",
    )  # fmt: skip
    provision.add_argument(
        "--rules-dir", metavar="DIR", type=Path,
        default=env("MONITOR_RULES_DIR"),
        help="Prometheus rule files to provision as Grafana rules "
        "(env MONITOR_RULES_DIR; default: alert_rules)",
    )  # fmt: skip
    provision.add_argument("--no-rules", action="store_true", help="leave alert rules out")
    provision.add_argument(
        "--datasource-uid", metavar="UID",
        help="Prometheus data source of the rules (default: the configured or default Prometheus)",
    )  # fmt: skip
    mode = provision.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run", action="store_true",
        help="print what would change, with diffs (no Grafana configured or answering: an empty one's plan)",
    )  # fmt: skip
    mode.add_argument(
        "--check", action="store_true", help="like --dry-run, Grafana required; exit 1 when anything differs"
    )
    _add_backtest(commands)
    _add_slo(commands)
    return parser


def _add_slo(commands: argparse._SubParsersAction[_Parser]) -> None:
    from monitor.commands.slo import DEFAULT_OUT  # the command's one default (a light module)

    slo = commands.add_parser(
        "slo",
        help="service level objectives: generate their Prometheus rules and promtool tests",
        description="Commands on the config's slos: section. Exit codes: 0 done, 3 error.",
        epilog=SLO_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    actions = slo.add_subparsers(dest="slo_command", required=True, parser_class=_Parser)
    generate = actions.add_parser(
        "generate",
        help="write <slo>.slo.rules.yml and tests/<slo>.slo.test.yml for each SLO",
        description="Recording rules of the error ratio over 5m to 3d and the SRE workbook's "
        "multi-window multi-burn-rate alerts (page and ticket), with promtool unit tests beside them. "
        "Reads no secret and asks no Prometheus. Exit codes: 0 written, 3 error.",
        epilog=SLO_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    generate.add_argument(
        "--config", metavar="FILE", type=Path, default=_env_path("MONITOR_CONFIG"),
        help="settings YAML with the slos: section (env MONITOR_CONFIG; required unless set)",
    )  # fmt: skip
    generate.add_argument(
        "--out", metavar="DIR", type=Path, default=DEFAULT_OUT,
        help="where the rule files go; their tests go into DIR/tests",
    )  # fmt: skip


def _add_backtest(commands: argparse._SubParsersAction[_Parser]) -> None:
    backtest = commands.add_parser(
        "backtest",
        help="replay a profile over a service's history: past deploys, false alarms, suggested settings",
        description="Finds the service's past deploys in its metrics and replays each as the daemon would "
        "have judged it; judges stretches where one version ran alone against themselves (A/A) for each "
        "check's false-alarm rate; suggests allowances that keep false alarms under the target. Progress "
        "on stderr. Exit codes: 0 done, 3 error.",
        epilog=BACKTEST_EXAMPLE,
        formatter_class=_HelpFormatter,
    )
    _prometheus_and_service(backtest)
    backtest.add_argument(
        "--environment", metavar="ENV", help="whose settings judge it (default: the config's environment)"
    )
    backtest.add_argument(
        "--since", required=True, metavar="DURATION|TIME",
        help=f"start of the range: a duration back from now (30d, 12h, 2w) or a TIME: {TIME_HELP}",
    )  # fmt: skip
    backtest.add_argument(
        "--until", metavar="TIME", default="now", help="end of the range, a TIME as --since"
    )
    _profile_and_config(backtest)
    backtest.add_argument(
        "--output", choices=("text", "json", "csv", "html"), default="text",
        help="what goes to stdout: tables, the JSON document, every look as CSV, or the HTML page",
    )  # fmt: skip
    backtest.add_argument(
        "--out", metavar="DIR",
        help="write backtest.txt, .csv, .json, .html and the suggested profile override into DIR instead "
        "(default: none, --output to stdout)",
    )  # fmt: skip
    backtest.add_argument(
        "--false-alarm-target", metavar="SHARE", default="0.01",
        help="the share of A/A runs a suggested setting may fail, e.g. 0.01 for 1 %%",
    )  # fmt: skip


def _prometheus_and_service(parser: argparse.ArgumentParser) -> None:
    """The Prometheus to read and the service to judge: what analyze and backtest both take."""
    parser.add_argument(
        "--prometheus-url", metavar="URL", type=url_type(),
        help="Prometheus base URL (env MONITOR_PROMETHEUS_URL; default: prometheus.url in --config)",
    )  # fmt: skip
    parser.add_argument(
        "--service", required=True, metavar="NAME", help="service name as labelled in the metrics"
    )


def _profile_and_config(parser: argparse.ArgumentParser) -> None:
    """The profile and the settings file: what analyze and backtest both take."""
    parser.add_argument(
        "--profile", metavar="NAME|PATH",
        help="built-in profile name or profile file (default: the config's profile, else otel-http)",
    )  # fmt: skip
    parser.add_argument(
        "--config", metavar="FILE",
        help="settings YAML (environment, Prometheus timeouts, matchers) (default: none, built-in settings)",
    )  # fmt: skip


_UNLESS_ID = " (required unless --deployment-id)"
TIME_HELP = "RFC 3339, Unix seconds, or relative: now, now-20m, now-1h30m"
ANALYZE_EXAMPLE = """example:
  monitor analyze --prometheus-url http://prometheus:9090 --service checkout \\
      --canary-version v2 --baseline-version v1 --start now-30m --end now --interval 1m
  monitor analyze --service checkout --canary-version v2 --baseline-version v1 \\
      --start 2026-11-26T10:00:00Z --end 2026-11-26T10:30:00Z --output json
  monitor analyze --config monitor.yaml --service checkout --canary-version v2 --baseline-version v1 \\
      --start now-15m --end now --probe health --probe https://checkout.example.com/health"""
SERVE_EXAMPLE = """example:
  monitor serve --listen 0.0.0.0:8080 --prometheus-url http://prometheus:9090 \\
      --database sqlite:///monitor.db --config monitor.yaml"""
GATE_EXAMPLE = """example:
  MONITOR_TOKEN=... monitor gate --url http://monitor:8080 --service checkout \\
      --environment production --version v2 --baseline-version v1 --idempotency-key "$BUILD_TAG"
  monitor gate --service checkout --environment production --version v2 --baseline-version v1 \\
      --strategy bluegreen --preview https://checkout-green.preview.example.com --probe health \\
    && switch-traffic-to-green
"""
REPORT_LINK_EXAMPLE = """example:
  monitor report-link --config monitor.yaml 7f9c2e4a-... --lifetime 24h
  MONITOR_REPORT_LINK_KEY_FILE=/run/secrets/report-link-key MONITOR_PUBLIC_URL=https://monitor.example.com \\
      monitor report-link --index"""
SLO_EXAMPLE = """example:
  monitor slo generate --config monitor.yaml --out alert_rules/slo
  cd alert_rules/slo/tests && promtool test rules *.test.yml"""
PROVISION_EXAMPLE = """example:
  monitor provision --config monitor.yaml --dry-run"""
BACKTEST_EXAMPLE = """example:
  monitor backtest --prometheus-url http://prometheus:9090 --service checkout --since 30d
  monitor backtest --service checkout --environment production --since 2026-11-01T00:00:00Z \\
      --until now-1d --profile otel-http --out backtest-checkout/"""


def _env_path(name: str) -> Path | None:
    value = env(name)
    return Path(value) if value else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``monitor`` console script.

    A reader that closes stdout early (``| head -1``) does not change the exit code: the command
    still exits by its own outcome (see :mod:`monitor.pipes`).
    """
    with stdout_may_close():
        return _run(build_parser().parse_args(argv))


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """numpy imported inside uses one OpenBLAS thread, unless the environment already says how many.

    A one-shot analysis does small-array arithmetic: the thread per core that OpenBLAS starts when
    numpy loads costs ``monitor analyze`` 35 ms of its start and speeds up nothing at these sizes
    (OpenBLAS splits a dot product across threads only beyond 10,000 points). The variable is read
    when the library loads, and removed afterwards so that no child process inherits it.
    """
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]


def _run(args: argparse.Namespace) -> int:
    if args.command == "analyze":
        with _one_blas_thread():
            from monitor.commands.analyze import run_analyze

        return run_analyze(args)
    if args.command == "serve":
        from monitor.commands.serve import run_serve

        return run_serve(args)
    if args.command == "gate":
        from monitor.commands.gate import run_gate

        return run_gate(args)
    if args.command == "report-link":
        from monitor.commands.report_link import run_report_link

        return run_report_link(args)
    if args.command == "provision":
        from monitor.commands.provision import run_provision

        return run_provision(args)
    if args.command == "backtest":
        from monitor.commands.backtest import run_backtest

        return run_backtest(args)
    if args.command == "slo":
        from monitor.commands.slo import run_slo

        return run_slo(args)
    return EXIT_ERROR  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
