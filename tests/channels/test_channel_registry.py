"""Channels are found by kind: the settings decide which exist, and the outbox core names none."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from monitor.channels import outbox
from monitor.channels.registry import channels_for, kinds, register
from monitor.config import Settings, load_settings

CONFIG = """
webhooks:
  - {name: deploys, url: https://hooks.example.com/deploys, secret_env: HOOK_SECRET}
grafana: {url: https://grafana.example.com, token_env: GRAFANA_TOKEN}
pager:
  alertmanager_url: http://alertmanager:9093
  pagerduty: {routing_key_env: PD_KEY}
rollback:
  actions:
    - {name: ci, type: webhook, url: https://ci.example.com/rollback, secret_env: HOOK_SECRET}
"""
SECRETS = {"HOOK_SECRET": "s" * 32, "GRAFANA_TOKEN": "token", "PD_KEY": "r" * 32}


def test_only_configured_channels_are_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(channels_for(Settings())) == {"webhook"}  # kept: items of a removed webhook wait
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "monitor.yaml"
    path.write_text(CONFIG)
    channels = channels_for(load_settings(path, {}))
    assert list(channels) == ["webhook", "grafana", "alertmanager", "pagerduty", "rollback"]
    assert all(channel.kind == kind for kind, channel in channels.items())
    assert set(kinds()) == set(channels)


def test_a_kind_is_registered_once() -> None:
    with pytest.raises(ValueError, match="webhook"):
        register("webhook", lambda setup: None)


def test_the_outbox_core_imports_no_channel() -> None:
    tree = ast.parse(Path(outbox.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    channels = {
        f"monitor.channels.{name}" for name in ("webhook", "annotation", "pager", "rollback", "registry")
    }
    assert "monitor.channels.base" in imported  # the walk sees the module's imports
    assert not imported & channels
