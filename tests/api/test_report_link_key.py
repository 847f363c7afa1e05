"""The report-link key: read from a file (``report_links.key_file`` or MONITOR_REPORT_LINK_KEY_FILE),
refused with a message naming the file when it is missing, empty or too short."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.reportlinks import DEFAULT_LIFETIME_S

KEY = "0123456789abcdef" * 4


def _config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "monitor.yaml"
    config.write_text(text)
    return config


def test_the_key_comes_from_the_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "link.key").write_text(KEY + "\n")
    config = _config(tmp_path, "report_links: {key_file: link.key, lifetime_s: 86400}\n")
    links = load_settings(config, environ={}).report_links
    assert links is not None and (links.secret, links.lifetime_s) == (KEY.encode(), 86400)
    assert KEY not in repr(links)
    assert load_settings(_config(tmp_path, "environment: staging\n"), environ={}).report_links is None


def test_the_variable_alone_enables_links_and_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "other.key").write_text("f" * 40)
    variable = {"MONITOR_REPORT_LINK_KEY_FILE": str(tmp_path / "other.key")}
    links = load_settings(None, environ=variable).report_links
    assert links is not None and (links.secret, links.lifetime_s) == (b"f" * 40, DEFAULT_LIFETIME_S)
    # The file's key_file need not exist where the variable names another (a mounted Secret).
    config = _config(tmp_path, "report_links: {key_file: absent.key, lifetime_s: 600}\n")
    links = load_settings(config, environ=variable).report_links
    assert links is not None and (links.secret, links.lifetime_s) == (b"f" * 40, 600)
    lifetime_only = _config(tmp_path, "report_links: {lifetime_s: 3600}\n")
    assert load_settings(lifetime_only, environ=variable).report_links is not None
    with pytest.raises(
        ConfigError, match=r"monitor.yaml:1: field 'report_links': no key; set report_links.key_file"
    ):
        load_settings(lifetime_only, environ={})


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "the key file is empty"), ("short-key\n", "the key is 9 characters; at least 32 are needed")],
)
def test_an_empty_or_short_key_is_refused_naming_the_file(tmp_path: Path, content: str, problem: str) -> None:
    key = tmp_path / "link.key"
    key.write_text(content)
    config = _config(tmp_path, "report_links: {key_file: link.key}\n")
    with pytest.raises(
        ConfigError, match=rf"monitor.yaml:1: field 'report_links.key_file': link.key: {problem}"
    ):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match=rf"MONITOR_REPORT_LINK_KEY_FILE: {key}: {problem}; generate one"):
        load_settings(None, environ={"MONITOR_REPORT_LINK_KEY_FILE": str(key)})


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    config = _config(tmp_path, "report_links: {key_file: nowhere.key}\n")
    with pytest.raises(ConfigError, match=r"report_links.key_file': cannot read .*nowhere.key"):
        load_settings(config, environ={})
    with pytest.raises(ConfigError, match=r"MONITOR_REPORT_LINK_KEY_FILE: cannot read /no/such.key"):
        load_settings(None, environ={"MONITOR_REPORT_LINK_KEY_FILE": "/no/such.key"})
    with pytest.raises(ConfigError, match=r"report_links.lifetime_s"):
        load_settings(_config(tmp_path, "report_links: {key_file: k, lifetime_s: 5}\n"), environ={})
