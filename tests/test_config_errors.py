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
