"""The example manifests parse, point at real routes, and their gate commands are valid CLI calls."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from monitor.api.app import create_app
from monitor.cli import build_parser

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _gate(command: str) -> None:
    argv = shlex.split(re.sub(r"\$\{[^}]*\}|\$\{\{[^}]*\}\}", "X", command))
    args = build_parser().parse_args(argv[1:])
    assert args.command == "gate" and args.service and args.environment


def test_argo_rollouts_analysis_template() -> None:
    doc = yaml.safe_load((EXAMPLES / "argo-rollouts" / "analysis-template.yaml").read_text())
    assert doc["kind"] == "AnalysisTemplate"
    metric = doc["spec"]["metrics"][0]
    assert metric["successCondition"] == 'result.verdict == "pass"'
    assert metric["failureCondition"] == 'result.verdict == "fail"'
    assert metric["inconclusiveLimit"] == metric["count"] - 1  # "running" measurements must not pause it
    assert "/api/v1/integrations/argo-rollouts/verdict?" in metric["provider"]["web"]["url"]


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


def test_github_actions_step_runs_a_valid_gate() -> None:
    doc = yaml.safe_load((EXAMPLES / "github-actions" / "deploy.yml").read_text())
    step = next(s for s in doc["jobs"]["deploy"]["steps"] if s.get("name") == "Deployment health")
    _gate(step["run"])


def test_jenkinsfile_is_balanced_and_runs_a_valid_gate() -> None:
    text = (EXAMPLES / "jenkins" / "Jenkinsfile").read_text()
    code = re.sub(r"//.*", "", re.sub(r"'[^']*'", "''", text))  # drop string literals, then comments
    assert code.count("{") == code.count("}") and code.count("(") == code.count(")")
    command = re.search(r"script: '(monitor gate[^']*)'", text)
    assert command is not None
    _gate(command.group(1))


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
