"""One translation of the models' validation errors: file:line, field path, problem and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    return str(caught.value).removeprefix(f"{tmp_path}/")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "settle_s: 30\nprometheus: {timeout_s: 0}\n",
            "monitor.yaml:2: field 'prometheus.timeout_s': 0 is out of range; use a value in [0.1, 600]",
        ),
        (
            "prometheus:\n  max_attempts: 2.5\n",
            "monitor.yaml:2: field 'prometheus.max_attempts': expected a whole number, got 2.5; "
            "write a whole number in [1, 20]",
        ),
        (
            "logs_from: tempo\n",
            "monitor.yaml:1: field 'logs_from': 'tempo' is not allowed; use one of: receiver, loki",
        ),
        (
            "rollback:\n  actions:\n    - {name: undo, namespace: shop}\n",
            "monitor.yaml:3: field 'rollback.actions[0].type': missing; use one of: webhook, argo-rollouts, "
            "kubernetes-deployment, helm, argocd, feature-flag",
        ),
        (
            "rollback:\n  actions:\n    - {name: undo, type: helm, namespace: shop, release: x, url: y}\n",
            "monitor.yaml:3: field 'rollback.actions[0].url': unknown field; helm actions take: dry_run, "
            "environments, name, namespace, release, services, type",
        ),
        (
            "webhooks:\n  - {name: a, url: https://x, secret_env: X, verdicts: [pass, maybe]}\n",
            "monitor.yaml:2: field 'webhooks[0].verdicts[1]': 'maybe' is not allowed; "
            "list some of: pass, marginal, fail, inconclusive",
        ),
        (
            "matchers: {cluster: yes}\n",
            "field 'matchers.cluster': expected text, got true; quote the label value",
        ),
        ("matchers: {cluster: 5}\n", "field 'matchers.cluster': expected text, got 5; quote it: \"5\""),
        ("environment: 2024\n", "field 'environment': expected text, got 2024; quote it: \"2024\""),
        ("1: x\n", "monitor.yaml:1: field '1': the key 1 is not a string; quote it"),
        (
            "environments:\n  production: {}\n  5: {max_duration_s: 60}\n",
            "monitor.yaml:3: field 'environments.5': the key 5 is not a string; quote it",
        ),
        (
            "grafana: {url: https://g, token_env: X, org_id: 1.5}\n",
            "field 'grafana.org_id': expected a whole number, got 1.5; write the organisation's number",
        ),
        (
            "grafana: {url: https://g, token_env: X, folder_uid: 'a b'}\n",
            "field 'grafana.folder_uid': invalid 'a b'; use at most 40 letters, digits, '-' or '_'",
        ),
    ],
)
def test_each_kind_of_error_names_line_field_problem_and_fix(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in _error(tmp_path, text)


def test_the_first_problem_in_the_file_is_named_and_the_others_counted(tmp_path: Path) -> None:
    message = _error(tmp_path, "traffic: {expected_canary_share: 2}\nsettle_s: -1\nprofile: 3\n")
    # pydantic reports the fields in declaration order; the file is read top to bottom.
    assert message.startswith("monitor.yaml:1: field 'traffic.expected_canary_share': 2 is out of range")
    assert message.endswith("(and 2 more problems after it)")


def test_a_validator_names_the_field_it_is_about(tmp_path: Path) -> None:
    message = _error(tmp_path, "pager:\n  alert_ttl_s: 600\n")
    assert message == "monitor.yaml:1: field 'pager': no destination; set alertmanager_url and/or pagerduty"
    message = _error(tmp_path, "loki:\n  headers:\n    Authorization: Bearer x\n")
    assert message.startswith("monitor.yaml:3: field 'loki.headers.Authorization': header Authorization")


def test_an_integral_float_is_a_whole_number_of_attempts(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text("prometheus: {max_attempts: 3.0}\n")
    attempts = load_settings(path, environ={}).prometheus_max_attempts
    assert attempts == 3 and isinstance(attempts, int)


@pytest.mark.parametrize(
    ("text", "field", "fix"),
    [
        (
            "pager: {pagerduty: R0UTINGKEYSECRET}\n",
            "pager.pagerduty",
            "use one of: routing_key_env, routing_key_file, url",
        ),
        (
            "grafana:\n  url: https://g\n  token_env: X\n  contact_point:\n    type: pagerduty\n"
            "    secure_settings: {integrationKey: R0UTINGKEYSECRET}\n",
            "grafana.contact_point.secure_settings.integrationKey",
            "use one of: secret_env, secret_file",
        ),
        (
            "loki: {url: https://l, basic_auth: 'monitor:R0UTINGKEYSECRET'}\n",
            "loki.basic_auth",
            "use one of: password_env, password_file, username",
        ),
    ],
)
def test_a_value_given_for_a_mapping_is_named_by_its_type_never_shown(
    tmp_path: Path, text: str, field: str, fix: str
) -> None:
    message = _error(tmp_path, text)
    assert "R0UTINGKEYSECRET" not in message
    assert f"field '{field}': expected a mapping, got a string; {fix}" in message


@pytest.mark.parametrize(
    "text",
    [
        "rollback:\n  actions:\n    - {name: undo, type: webhook, url: 'ftp://hooks/x?token=R0UTINGKEYSECRET'}\n",
        "webhooks:\n  - {name: a, url: 'ftp://ci:R0UTINGKEYSECRET@hooks/x', secret_env: X}\n",
        "trace_url: 'https://ci:R0UTINGKEYSECRET@grafana/explore'\n",
        "logs_from: {R0UTINGKEYSECRET: 1}\n",
    ],
)
def test_a_url_or_value_refused_is_shown_with_its_secrets_masked(tmp_path: Path, text: str) -> None:
    message = _error(tmp_path, text)
    assert "R0UTINGKEYSECRET" not in message
    assert "field '" in message


@pytest.mark.parametrize(("setting", "backend"), [("logs_from", "loki"), ("traces_from", "tempo")])
def test_a_pulled_backend_without_its_url_is_refused_when_the_file_is_read(
    tmp_path: Path, setting: str, backend: str
) -> None:
    text = f"settle_s: 30\n{setting}: {backend}\n"
    assert _error(tmp_path, text) == (
        f"monitor.yaml:2: field '{setting}': {backend} is chosen but no {backend} URL is set; "
        f"set {backend}.url or MONITOR_{backend.upper()}_URL"
    )
    path = tmp_path / "monitor.yaml"
    url = f"http://{backend}:3100"
    settings = load_settings(path, environ={f"MONITOR_{backend.upper()}_URL": url})
    assert getattr(settings.sources, backend).url == url
    path.write_text(f"{setting}: {backend}\n{backend}: {{url: {url}}}\n")
    assert getattr(load_settings(path, environ={}), setting) == backend


def test_monitor_grafana_url_overrides_the_grafana_section_for_every_command(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t\n")
    path = tmp_path / "monitor.yaml"
    path.write_text("grafana: {url: https://file-grafana, token_file: token}\n")
    grafana = load_settings(path, environ={"MONITOR_GRAFANA_URL": "https://env-grafana/"}).grafana
    assert grafana is not None and grafana.url == "https://env-grafana" and grafana.token == "t"
    grafana = load_settings(path, environ={}).grafana
    assert grafana is not None and grafana.url == "https://file-grafana"
    # Without a grafana: section the variable alone configures no Grafana (it has no token).
    assert load_settings(None, environ={"MONITOR_GRAFANA_URL": "https://env-grafana"}).grafana is None
