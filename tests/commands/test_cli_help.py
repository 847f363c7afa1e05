"""The CLI's habits: ``--version``, help with a default on every flag and an example per command,
relative times (``--start now-20m --end now``)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from monitor.cli import build_parser, main, package_version
from monitor.commands.analyze import request_from_args

COMMANDS = ("analyze", "serve", "gate", "provision", "backtest", "slo")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def test_version_prints_the_package_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"monitor {package_version()}\n"
    assert package_version()[0].isdigit()


def test_version_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout.split()[0]) == (0, "monitor")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_has_an_example_and_every_flag_has_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = _subparsers()[command]
    lacking = [a.option_strings[0] for a in parser._actions if a.option_strings and not a.help]
    assert lacking == []
    # A flag with a default says it; one without says what happens when it is left out.
    for action in parser._actions:
        if action.option_strings and not action.required and action.nargs != 0 and action.dest != "help":
            shown = parser._get_formatter()._expand_help(action)
            assert "default" in shown or "required unless" in shown, action.option_strings
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "Example" in capsys.readouterr().out.title()


def test_analyze_help_shows_relative_times_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "now-20m" in out and "--start now-30m --end now" in out
    assert "(default: text)" in out


def test_start_now_minus_20m_end_now_is_exactly_20_minutes() -> None:
    args = build_parser().parse_args(
        ["analyze", "--prometheus-url", "http://127.0.0.1:9", "--service", "s", "--canary-version", "v2",
         "--baseline-version", "v1", "--start", "now-20m", "--end", "now"]
    )  # fmt: skip
    request, _source, _settings = request_from_args(args)
    assert request.canary_window.duration_s == 1200.0


def test_a_bad_relative_time_is_exit_3_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["analyze", "--prometheus-url", "http://127.0.0.1:9", "--service", "s", "--canary-version", "v2",
         "--baseline-version", "v1", "--start", "now-20", "--end", "now"]
    )  # fmt: skip
    assert code == 3
    assert "--start 'now-20' is not a time; use RFC 3339" in capsys.readouterr().err


def test_gate_resolves_a_relative_started_at_before_registering() -> None:
    from datetime import UTC, datetime

    from monitor.commands.gate import _registration
    from monitor.timeparse import parse_time

    args = build_parser().parse_args(
        ["gate", "--service", "s", "--environment", "testing", "--version", "v2", "--baseline-version", "v1",
         "--started-at", "now-5m"]
    )  # fmt: skip
    started = parse_time(_registration(args)["started_at"], "started_at")
    assert 290 <= (datetime.now(UTC) - started).total_seconds() <= 305
