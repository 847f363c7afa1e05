"""Fuzz: the daemon's config file, as ``load_settings`` reads it.

Inputs: the example production config and a config with secret files, each with one to three
values replaced, deleted or added at any depth (dumped with ``yaml.safe_dump``); YAML-ish text
and YAML's hostile features (aliases, self-reference, deep nesting, tags); and bytes mutated
from a valid file (so also text that is not UTF-8).

Property: ``load_settings`` gives :class:`Settings` within the documented bounds or raises
:class:`ConfigError`; never another exception, never a hang.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.profiles import fuzz_profile
from fuzz.strategies import (
    NUMBERS,
    TEXT,
    YAML_HOSTILE,
    YAML_TEXT,
    YAML_VALUES,
    bomb,
    corrupted,
    deep_yaml,
    mutated,
)
from monitor.config import SCOPES, Settings, load_settings
from monitor.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "examples" / "config" / "monitor.yaml"
WITH_FILES = """\
environment: staging
profile: custom.yaml
prometheus: {timeout_s: 5, max_attempts: 2}
traffic: {expected_canary_share: 0.1}
matchers: {cluster: eu-1}
settle_s: 30
tokens:
  - {name: ci, scopes: [read, deploy], token_file: token}
webhooks:
  - {name: chat, url: https://chat.example.com/hook, secret_file: hook, verdicts: [fail],
     environments: [staging]}
environments:
  staging: {interval_s: 30, harm: {counts: 2.0, latency: 1.25, unproven: warn}, rollback: auto}
  canary-lab: {profile: prometheus-http, page: false}
grafana:
  url: https://grafana.example.com
  token_file: token
  org_id: 2
  contact_point:
    {type: pagerduty, settings: {severity: critical}, secure_settings: {key: {secret_file: hook}}}
pager: {pagerduty: {routing_key_file: token, url: https://events.example.com}, alert_ttl_s: 600}
rollback:
  kubeconfig: kubeconfig
  kube_context: lab
  actions:
    - {name: undo, type: kubernetes-deployment, namespace: shop, deployment: $service, dry_run: true}
    - {name: argocd, type: argocd, url: https://argocd.example.com, token_file: token, application: $service}
"""
BASES = (yaml.safe_load(EXAMPLE.read_text()), yaml.safe_load(WITH_FILES))
SECRET_ENV = [f"MONITOR_{name}" for name in (
    "TOKEN_JENKINS", "TOKEN_ARGO", "TOKEN_COLLECTOR", "TOKEN_PROMETHEUS", "CHAT_HOOK_SECRET", "GRAFANA_TOKEN",
    "PAGERDUTY_ROUTING_KEY", "JENKINS_HOOK_SECRET", "FLAGS_TOKEN",
)]  # fmt: skip

# Values that fit some field of the file, so edits move a document between near-valid states.
PLAUSIBLE = st.sampled_from(
    ["auto", "signal", "off", "inconclusive", "warn", *SCOPES, "pass", "fail", "https://x.example.com",
     "http://", "otel-http", "p.yaml", "/p.yml", "token", "short", "missing", "", ".", "~", "~nosuchuser/k",
     "a\x00b", "webhook", "helm", "argocd", "feature-flag", "$service", "MONITOR_FLAGS_TOKEN", "UNSET_VAR",
     "https://t.example.com/{trace_id}", "production", True, False, None, 0, 1, 0.5, 3600, 1e9, -1]
)  # fmt: skip
KEYS = st.sampled_from(
    ["environment", "profile", "tokens", "environments", "webhooks", "grafana", "pager", "rollback",
     "actions", "name", "url", "type", "scopes", "token_file", "token_env", "secret_file", "secret_env",
     "verdicts", "harm", "unproven", "counts", "kubeconfig", "settle_s", "timeout_s", "org_id"]
) | TEXT  # fmt: skip
VALUES = PLAUSIBLE | NUMBERS | YAML_VALUES
DOCUMENTS = st.sampled_from(BASES).flatmap(lambda base: corrupted(base, VALUES, KEYS))


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with the secret files the configs name; the variables they name are set."""
    (tmp_path / "token").write_text("t" * 32)
    (tmp_path / "short").write_text("t" * 8)
    (tmp_path / "hook").write_text("h" * 32)
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\n")
    (tmp_path / "latin-1").write_bytes("s\xe9cr\xe9t-".encode("latin-1") * 4)
    for name in SECRET_ENV:
        monkeypatch.setenv(name, "s" * 32)
    return tmp_path


def load(config_dir: Path, content: str | bytes) -> None:
    """The property, for one file."""
    path = config_dir / "monitor.yaml"
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    try:
        settings = load_settings(path, environ={})
    except ConfigError as exc:
        assert str(exc), exc
        event("ConfigError")
        return
    event("Settings")
    assert isinstance(settings, Settings)
    assert 0.1 <= settings.prometheus_timeout_s <= 600 and 1 <= settings.prometheus_max_attempts <= 20
    assert 0 <= settings.settle_s <= 3600
    assert all(len(token.secret) >= 16 and set(token.scopes) <= set(SCOPES) for token in settings.tokens)
    assert all(10 <= env.interval_s <= 3600 for env in settings.environments)


def test_the_bases_are_valid(config_dir: Path) -> None:
    for base in BASES:
        settings = load_settings(_write(config_dir, yaml.safe_dump(base)), environ={})
        assert settings.tokens and settings.webhooks and settings.grafana and settings.rollback.actions


def _write(config_dir: Path, text: str) -> Path:
    path = config_dir / "monitor.yaml"
    path.write_text(text)
    return path


_TOKEN = {"name": "ci", "scopes": ["read"], "token_env": "MONITOR_FLAGS_TOKEN"}
_HOOK = {"name": "chat", "url": "https://chat.example.com/hook", "secret_env": "MONITOR_FLAGS_TOKEN"}


@fuzz_profile
@given(document=DOCUMENTS | YAML_VALUES)
# Found by this target: each was a TypeError, RuntimeError, ValueError or UnicodeError.
@example(document={"webhooks": [{**_HOOK, "verdicts": [["fail"]]}]})
@example(document={"tokens": [{**_TOKEN, "scopes": [["read"]]}]})
@example(document={"environments": {"lab": {"rollback": ["auto"]}}})
@example(document={"environments": {"lab": {"harm": {"unproven": {"warn": 1}}}}})
@example(document={"matchers": 5})
@example(document={"matchers": [["cluster"]]})
@example(document={"rollback": {"kubeconfig": "~no-such-user-anywhere/config"}})
@example(document={"tokens": [{**_TOKEN, "token_env": None, "token_file": "a\x00b"}]})
@example(document={"tokens": [{**_TOKEN, "token_env": None, "token_file": "\ud800"}]})
@example(document={"tokens": [{**_TOKEN, "token_env": None, "token_file": "latin-1"}]})
def test_config_document_is_settings_or_a_config_error(config_dir: Path, document: Any) -> None:
    load(config_dir, yaml.safe_dump(document))


@fuzz_profile
@given(text=YAML_TEXT | YAML_HOSTILE | st.text(max_size=200))
@example(text="a: &a [*a]\n")  # RecursionError
@example(text=deep_yaml(600))  # RecursionError
@example(text=bomb(9))  # ran for hours
def test_config_text_is_settings_or_a_config_error(config_dir: Path, text: str) -> None:
    load(config_dir, text)


@fuzz_profile
@given(
    raw=st.binary(max_size=200)
    | st.sampled_from([EXAMPLE.read_bytes(), WITH_FILES.encode()]).flatmap(mutated)
)
def test_config_bytes_are_settings_or_a_config_error(config_dir: Path, raw: bytes) -> None:
    load(config_dir, raw)
