"""The example manifests parse, point at real routes, and their gate commands are valid CLI calls."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from aiohttp.test_utils import TestClient, TestServer

from monitor.api.app import create_app
from monitor.cli import build_parser
from monitor.config import Settings
from monitor.environments import Environments
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_UNDECIDED
from monitor.store import Store
from monitor.timeparse import parse_duration_s

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _gate(command: str) -> None:
    argv = shlex.split(re.sub(r"\$\{[^}]*\}|\$\{\{[^}]*\}\}", "X", command))
    args = build_parser().parse_args(argv[1:])
    assert args.command == "gate" and args.service and args.environment


def _argo_metric() -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLES / "argo-rollouts" / "analysis-template.yaml").read_text())
    assert doc["kind"] == "AnalysisTemplate"
    (metric,) = doc["spec"]["metrics"]
    return dict(metric)


def test_argo_rollouts_analysis_template() -> None:
    metric = _argo_metric()
    assert metric["successCondition"] == 'result.verdict == "pass"'
    assert metric["failureCondition"] == 'result.verdict == "fail"'
    assert metric["inconclusiveLimit"] == metric["count"] - 1  # "running" measurements must not pause it
    url = urlsplit(metric["provider"]["web"]["url"])
    assert url.path == "/api/v1/integrations/argo-rollouts/verdict"
    # The web metric registers on its first call: the query names the baseline (docs/pipelines.md).
    assert set(parse_qs(url.query)) == {"service", "environment", "version", "baseline_version", "strategy"}


def test_argo_rollouts_measures_until_after_production_s_last_look() -> None:
    """Argo's web metric never stops early on success: its last measurement must read the final
    verdict, so (count - 1) x interval reaches the last look of production's analysis (warm-up,
    max duration, then the look's settle time, all from the first call, which registers), and
    count x interval stays within a few minutes of it, not holding the rollout for nothing."""
    metric = _argo_metric()
    production = Environments().get("production")
    assert production is not None
    last_look_s = production.warmup_s + production.max_duration_s + Settings().settle_s
    interval_s = parse_duration_s(metric["interval"], "interval")
    assert (metric["count"] - 1) * interval_s >= last_look_s + interval_s / 2  # time to record it
    assert production.max_duration_s <= metric["count"] * interval_s <= last_look_s + 5 * 60
    # The example config changes production's rollback and paging, not its durations.
    config = yaml.safe_load((EXAMPLES / "config" / "monitor.yaml").read_text())
    assert not {"warmup_s", "max_duration_s", "interval_s"} & set(config["environments"]["production"])


async def test_argo_rollouts_template_url_registers_then_reads(tmp_path: Path) -> None:
    """The template's URL, its arguments filled in, against the real app without authentication:
    the first measurement registers (201), the next reads the same deployment (200)."""
    metric = _argo_metric()
    args = {
        "service": "checkout",
        "version": "2.4.1",
        "baseline-version": "2.4.0",
        "environment": "production",
    }
    template = metric["provider"]["web"]["url"]
    url = urlsplit(re.sub(r"\{\{args\.([a-z-]+)\}\}", lambda m: args[m.group(1)], template))
    store = await Store.open(f"sqlite:///{tmp_path / 'monitor.db'}")
    client = TestClient(TestServer(create_app(store, None, None)))  # type: ignore[arg-type]  # no look runs
    await client.start_server()
    try:
        first = await client.get(f"{url.path}?{url.query}")
        assert first.status == 201, await first.text()
        second = await client.get(f"{url.path}?{url.query}")
        assert second.status == 200
        assert (await first.json())["deployment_id"] == (await second.json())["deployment_id"]
    finally:
        await client.close()
        await store.close()


def test_flagger_canary_webhooks() -> None:
    doc = yaml.safe_load((EXAMPLES / "flagger" / "canary.yaml").read_text())
    hooks = {h["type"]: h for h in doc["spec"]["analysis"]["webhooks"]}
    assert set(hooks) == {"rollout", "confirm-promotion", "rollback"}
    for kind, hook in hooks.items():
        assert hook["url"].endswith(f"/api/v1/integrations/flagger/{kind}")
        assert hook["metadata"]["service"] == "checkout" and hook["metadata"]["token"]


def test_argocd_postsync_job_runs_a_valid_gate() -> None:
    doc = yaml.safe_load((EXAMPLES / "argocd" / "postsync-job.yaml").read_text())
    assert doc["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
    command = doc["spec"]["template"]["spec"]["containers"][0]["command"]
    args = build_parser().parse_args(command[1:])
    assert args.command == "gate" and args.max_duration == "30m"


def test_github_actions_installs_the_monitor_then_runs_a_valid_gate() -> None:
    doc = yaml.safe_load((EXAMPLES / "github-actions" / "deploy.yml").read_text())
    steps = doc["jobs"]["deploy"]["steps"]
    names = [s.get("name") for s in steps]
    install = steps[names.index("Install the monitor's CLI")]["run"]
    # pip installs this repository's package, by its name, at the tag of its version.
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    requirement = install.split('"')[1]
    assert requirement.startswith("deploy-health-monitor @ git+") and requirement.endswith(f"@v{version}")
    assert names.index("Install the monitor's CLI") < names.index("Deployment health")
    _gate(steps[names.index("Deployment health")]["run"])


def _jenkinsfile() -> str:
    """The Jenkinsfile without its comments (``//`` not after a ``:``, as in a URL)."""
    return re.sub(r"(?<!:)//.*", "", (EXAMPLES / "jenkins" / "Jenkinsfile").read_text())


def test_jenkinsfile_is_balanced_and_runs_a_valid_gate() -> None:
    code = _jenkinsfile()
    stripped = re.sub(r"'[^']*'", "''", code)  # string literals out
    assert stripped.count("{") == stripped.count("}") and stripped.count("(") == stripped.count(")")
    command = re.search(r"script: '(monitor gate[^']*)'", code)
    assert command is not None
    _gate(command.group(1))
    # Both versions are defined before they are used: VERSION a parameter, PREVIOUS_VERSION read
    # from what runs before the upgrade.
    assert "string(name: 'VERSION'" in code
    assert code.index("env.PREVIOUS_VERSION = sh(") < code.index("helm upgrade") < code.index("monitor gate")


def test_jenkinsfile_maps_each_exit_code_and_rolls_back_once() -> None:
    """exit 3 (error) fails the build, never downgraded to unstable; unstable only follows a human's
    decision to keep an undecided (exit 2) version; helm rollback runs only when the monitor does not."""
    code = _jenkinsfile()
    assert (EXIT_FAIL, EXIT_UNDECIDED, EXIT_ERROR) == (1, 2, 3)
    error_branch = re.search(r"code == 3\) \{([^}]*)\}", code)
    assert error_branch is not None and "error(" in error_branch.group(1)
    (unstable,) = re.finditer(r"unstable\(", code)
    decide = code.index("stage('Decide')")
    assert unstable.start() > code.index("input(", decide) > decide
    # The monitor rolls back: the gate's stage stops the build on exit 1 before the pipeline's own.
    fail_branch = re.search(r"code == 1 && env\.MONITOR_ROLLS_BACK == 'true'\) \{([^}]*)\}", code)
    assert fail_branch is not None and "error(" in fail_branch.group(1)
    (rollback,) = re.finditer(r"helm rollback", code)
    stage = code.rindex("stage(", 0, rollback.start())
    assert code.index(
        "when { expression { env.HEALTH_EXIT == '1' && env.MONITOR_ROLLS_BACK != 'true' } }", stage
    ) < (rollback.start())


def test_otel_collector_sends_traces_and_logs_to_the_receiver() -> None:
    doc = yaml.safe_load((EXAMPLES / "otel-collector" / "config.yaml").read_text())
    exporter = doc["exporters"]["otlphttp/deploy-monitor"]
    assert exporter["headers"]["Authorization"] == "Bearer ${env:MONITOR_INGEST_TOKEN}"  # never inline
    pipelines = doc["service"]["pipelines"]
    assert {"traces", "logs"} <= set(pipelines)
    assert all("otlphttp/deploy-monitor" in p["exporters"] for p in pipelines.values())
    # The otlphttp exporter appends /v1/traces and /v1/logs: both must be routes of the daemon.
    app = create_app(None, None, None)  # type: ignore[arg-type]  # routes only
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    assert {("POST", "/v1/traces"), ("POST", "/v1/logs")} <= routes


def test_the_production_config_example_loads_with_every_section() -> None:
    """The example config is valid: every section parses, with secrets from the environment."""
    from monitor.config import load_settings
    from monitor.environments import Environments
    from monitor.rollback.configured import RollbackPolicy

    text = (EXAMPLES / "config" / "monitor.yaml").read_text()
    variables = set(re.findall(r"(?:token_env|secret_env|routing_key_env): (\w+)", text))
    environ = {name: f"{name.lower()}-0123456789abcdef" for name in variables}
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, environ):
        settings = load_settings(EXAMPLES / "config" / "monitor.yaml")
    assert settings.grafana is not None and settings.pager is not None and settings.public_url
    assert [a.name for a in settings.rollback.actions] == ["jenkins", "rollouts", "flags"]
    assert Environments(settings.environments).get("production").rollback is RollbackPolicy.AUTO  # type: ignore[union-attr]
    assert len(settings.tokens) == 4


# The monitor's two addresses in every example and page: the chart's Service as `helm install
# deploy-monitor ./helm/monitor --namespace monitoring` names it (docs/helm.md; tests/helm renders it),
# and one public host (an ingress, the chart's ingress.host). Loopback is a local daemon or a
# port-forward; the JSON Schemas' `$id` base is a name, not a host anyone reaches.
IN_CLUSTER_URL = "http://deploy-monitor.monitoring.svc:8080"
PUBLIC_URL = "https://deploy-monitor.example.com"
_LOCAL = ("http://127.0.0.1:", "http://localhost:")
_SCHEMA_IDS = "https://deploy-health-monitor.dev/schema/"
_API_PATHS = ("/api/v1/deployments", "/api/v1/integrations", "/v1/logs", "/v1/traces", "/healthz", "/readyz")


def _documents() -> list[Path]:
    return [
        *sorted(p for p in EXAMPLES.rglob("*") if p.is_file()),
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "README.md",
        ROOT / "helm" / "monitor" / "templates" / "NOTES.txt",
        ROOT / "helm" / "monitor" / "values.yaml",
    ]


def _monitor_urls() -> list[tuple[str, str]]:
    """(file:line, URL) of every URL that reaches the monitor: its host is named after it, or its
    path is one of the monitor's routes. A templated rest (``{{args.service}}``) is cut off."""
    found = []
    for path in _documents():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(r"https?://[^\s\"'`)<>\]\\]+", line):
                url = match.group(0).split("{{")[0]
                parts = urlsplit(url)
                first_label = (parts.hostname or "").split(".")[0]
                if ("monitor" in first_label and first_label != "monitoring") or parts.path.startswith(
                    _API_PATHS
                ):
                    found.append((f"{path.relative_to(ROOT)}:{number}", url))
    return found


def test_examples_and_docs_reach_the_monitor_at_one_of_its_two_addresses() -> None:
    found = _monitor_urls()
    wrong = [
        f"{where}: {url}"
        for where, url in found
        if not (
            url.startswith((f"{IN_CLUSTER_URL}/", f"{PUBLIC_URL}/", *_LOCAL, _SCHEMA_IDS))
            or url in (IN_CLUSTER_URL, PUBLIC_URL)
        )
    ]
    assert not wrong, f"use {IN_CLUSTER_URL} (in the cluster) or {PUBLIC_URL} (outside):\n" + "\n".join(wrong)
    # The check sees the examples' addresses: both kinds are there.
    urls = {url for _, url in found}
    assert any(u.startswith(IN_CLUSTER_URL) for u in urls) and any(u.startswith(PUBLIC_URL) for u in urls)
    assert any(where.startswith("examples/argo-rollouts") for where, _ in found)


def test_install_instructions_name_the_package_and_its_version() -> None:
    """pip/pipx lines in README, docs and examples install this package at the tag of its version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        (path.name, line)
        for path in _documents()
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"\b(pipx install|pip install)\b.*git\+", line)
    ]
    assert len(lines) >= 4, lines  # README and docs/pipelines.md (pipx, pip), the GitHub Actions example
    for where, line in lines:
        assert f".git@v{project['version']}" in line, f"{where}: {line.strip()}"
        if "pip install" in line and "pipx" not in line:
            assert f"{project['name']} @ git+" in line, f"{where}: {line.strip()}"
