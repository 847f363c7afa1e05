"""Time and duration parsing; settings from file and environment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.engine import look_times
from monitor.environments import Environments
from monitor.errors import ConfigError, InputError
from monitor.profiles.model import HarmPolicy, Unproven
from monitor.timeparse import parse_duration_s, parse_time


def test_times_in_rfc3339_and_unix_seconds_agree() -> None:
    expected = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_time("1700000000", "--start") == expected
    assert parse_time("2023-11-14T22:13:20Z", "--start") == expected
    assert parse_time("2023-11-14T23:13:20+01:00", "--start") == expected


@pytest.mark.parametrize(
    ("text", "seconds"), [("60s", 60), ("1m", 60), ("90", 90), ("1.5h", 5400), ("500ms", 0.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text, "--interval") == seconds


@pytest.mark.parametrize("text", ["", "1 minute", "-5s", "0s"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(InputError, match="--interval"):
        parse_duration_s(text, "--interval")


def test_look_times_end_with_the_window_end() -> None:
    start = parse_time("1700000000", "s")
    end = parse_time("1700000150", "e")
    assert [t.timestamp() for t in look_times(start, end, 60)] == [1700000060, 1700000120, 1700000150]
    assert look_times(start, end, None) == [end]


def test_settings_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "environment: staging\nprofile: mine.yaml\nprometheus: {timeout_s: 5, max_attempts: 2}\n"
        "traffic: {expected_canary_share: 0.1}\nmatchers: {cluster: eu-1}\n"
    )
    settings = load_settings(path, environ={"MONITOR_ENVIRONMENT": "production"})
    assert settings.environment == "production"  # the environment wins over the file
    assert settings.profile == str(tmp_path / "mine.yaml")
    assert (settings.prometheus_timeout_s, settings.prometheus_max_attempts) == (5.0, 2)
    assert settings.expected_canary_share == 0.1
    assert settings.matchers == (("cluster", "eu-1"),)


def test_settings_errors_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text("environment: staging\nprometheus:\n  timeout_s: forever\n")
    with pytest.raises(ConfigError, match=r"monitor.yaml:3: field 'prometheus.timeout_s'"):
        load_settings(path, environ={})


def test_environments_override_builtins_and_add_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text("environments:\n  production: {max_duration_s: 7200}\n  canary-lab: {interval_s: 20}\n")
    envs = Environments(load_settings(path, environ={}).environments)
    production = envs.get("production")
    assert production is not None
    assert (production.max_duration_s, production.warmup_s, production.min_duration_s) == (7200, 120, 900)
    lab = envs.get("canary-lab")
    assert lab is not None and lab.interval_s == 20
    assert envs.get("prodution") is None
    path.write_text("environments:\n  production: {max_minutes: 5}\n")
    with pytest.raises(ConfigError, match=r"monitor.yaml:2.*environments\.production\.max_minutes"):
        load_settings(path, environ={})


def test_an_environment_profile_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "monitor.yaml"
    config.parent.mkdir()
    config.write_text("environments:\n  staging: {profile: profiles/strict.yaml}\n")
    [staging] = load_settings(config, environ={}).environments
    assert staging.profile == str(tmp_path / "conf" / "profiles" / "strict.yaml")


def test_an_environment_interval_the_api_would_refuse_fails_at_start(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("environments:\n  staging: {interval_s: 5}\n")
    with pytest.raises(ConfigError, match=r"environments\.staging\.interval_s.*\[10, 3600\]"):
        load_settings(config, environ={})


def test_harm_limits_are_per_environment_and_production_is_strict(tmp_path: Path) -> None:
    builtin = Environments()
    assert builtin.harm("production").unproven is Unproven.INCONCLUSIVE
    assert builtin.harm("production").counts == 2.0 and builtin.harm("production").latency == 1.25
    assert builtin.harm("staging").unproven is Unproven.WARN and builtin.harm(None).unproven is Unproven.WARN
    config = tmp_path / "monitor.yaml"
    config.write_text(
        "environments:\n  production: {harm: {latency: 1.1}}\n  staging: {harm: {unproven: inconclusive}}\n"
    )
    envs = Environments(load_settings(config, environ={}).environments)
    assert envs.harm("production") == HarmPolicy(counts=2.0, latency=1.1, unproven=Unproven.INCONCLUSIVE)
    assert envs.harm("staging").unproven is Unproven.INCONCLUSIVE
    config.write_text("environments:\n  production:\n    harm: {unproven: maybe}\n")
    with pytest.raises(
        ConfigError, match=r"monitor.yaml:3.*environments\.production\.harm\.unproven.*inconclusive or warn"
    ):
        load_settings(config, environ={})
    config.write_text("environments:\n  production:\n    harm: {latency: 0.5}\n")
    with pytest.raises(ConfigError, match=r"harm\.latency.*\[1, 1000\]"):
        load_settings(config, environ={})


def test_settle_time_defaults_to_a_flush_and_a_scrape_and_is_bounded(tmp_path: Path) -> None:
    assert load_settings(None, environ={}).settle_s == 40.0
    config = tmp_path / "monitor.yaml"
    config.write_text("settle_s: 90\n")
    assert load_settings(config, environ={}).settle_s == 90.0
    config.write_text("settle_s: -1\n")
    with pytest.raises(ConfigError, match=r"settle_s.*\[0, 3600\]"):
        load_settings(config, environ={})


NOW = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("now", 0), ("now-20m", -1200), ("now-1h30m", -5400), ("now+5m", 300), ("NOW-1d", -86400)],
)
def test_relative_times_count_from_the_one_now_given(text: str, seconds: float) -> None:
    assert (parse_time(text, "--start", NOW) - NOW).total_seconds() == seconds


def test_absolute_times_are_still_accepted_beside_relative_ones() -> None:
    assert parse_time("1700000000", "--start", NOW) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_time("2026-11-26T09:00:00Z", "--end", NOW) == NOW.replace(hour=9)


@pytest.mark.parametrize("text", ["now-20", "now - 20m", "yesterday", "now-m", "now*5m"])
def test_a_bad_relative_time_names_the_flag_and_every_accepted_form(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_time(text, "--start", NOW)
    assert str(caught.value) == (
        f"--start {text!r} is not a time; use RFC 3339 (2026-11-26T10:00:00Z), Unix seconds, "
        "or now, now-20m, now-1h30m, now+5m"
    )


def test_without_a_now_relative_times_are_refused() -> None:
    """The API's started_at takes absolute times only: only the CLI resolves ``now``."""
    with pytest.raises(InputError, match=r"'now-5m' is not a time; use RFC 3339 .* or Unix seconds$"):
        parse_time("now-5m", "started_at")
