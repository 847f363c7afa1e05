"""``monitor backtest``: its arguments' errors (exit 3, one line), its outputs on stdout or into
``--out``, and its progress on stderr. Most replace the computation by one returning a hand-built
result, so they run without Prometheus; the last runs the whole command against a real Prometheus
holding a small simulated history whose deploys and regressions are known."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.backtests import sample_backtest, sample_look_count

from monitor.backtest.result import Backtest
from monitor.backtest.span import backtest_span
from monitor.cli import build_parser, main
from monitor.commands.backtest import OVERRIDE_FILE, run_backtest
from monitor.commands.progress import ProgressBar, eta_text
from monitor.errors import InputError
from monitor.exitcodes import EXIT_ERROR, EXIT_PASS
from monitor.profiles import load_profile
from monitor.simulate.history import SMALL, simulate_history
from monitor.simulate.history_prometheus import history_into_prometheus
from monitor.timeparse import format_time

URL = "http://127.0.0.1:9"  # never connected to: the computation is replaced
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeRun:
    """Stands in for monitor.backtest.run.backtest: records its arguments, reports progress in ten
    steps, returns the sample result."""

    def __init__(self, result: Backtest | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.result = result or sample_backtest()

    async def __call__(self, source: Any, *args: Any, **kwargs: Any) -> Backtest:
        names = ("service", "environment", "since", "until", "profile", "settings")
        self.calls.append({"url": source.url, **dict(zip(names, args, strict=True)), **kwargs})
        progress: Callable[[int, int, str], None] = kwargs["progress"]
        for done in range(11):
            progress(done, 10, f"replaying deploy {done}")
        return self.result


def _run(argv: list[str], fake: FakeRun | None = None) -> tuple[int, str]:
    stderr = io.StringIO()
    code = run_backtest(build_parser().parse_args(["backtest", *argv]), run=fake or FakeRun(), stderr=stderr)
    return code, stderr.getvalue()


def _base(*extra: str) -> list[str]:
    return ["--prometheus-url", URL, "--service", "checkout", "--since", "30d", *extra]


def test_json_output_is_all_that_goes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeRun()
    code, stderr = _run(_base("--output", "json", "--environment", "production"), fake)
    assert code == EXIT_PASS
    document = json.loads(capsys.readouterr().out)
    assert document["service"] == "checkout" and len(document["deploys"]) == 3
    [call] = fake.calls
    assert (call["url"], call["service"], call["environment"]) == (URL, "checkout", "production")
    assert call["profile"].name == "otel-http" and call["false_alarm_target"] == 0.01
    assert (call["until"] - call["since"]).total_seconds() == 30 * 86400
    assert "backtest [" in stderr


@pytest.mark.parametrize("output", ["text", "csv", "html"])
def test_each_output_on_stdout(output: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run(_base("--output", output))
    out = capsys.readouterr().out
    assert code == EXIT_PASS
    if output == "csv":
        assert len(out.splitlines()) == 1 + sample_look_count()
    elif output == "html":
        assert out.startswith("<!DOCTYPE html>") and '<svg id="timeline"' in out
    else:
        assert out.startswith("backtest of checkout")


def test_out_writes_every_output_and_a_loadable_profile_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code, stderr = _run(_base("--out", str(out)))
    assert code == EXIT_PASS and capsys.readouterr().out == ""
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["backtest.txt", "backtest.csv", "backtest.json", "backtest.html", OVERRIDE_FILE])
    assert f"monitor: wrote {out / 'backtest.html'}" in stderr
    assert json.loads((out / "backtest.json").read_text())["profile"] == "otel-http"
    override = load_profile(str(out / OVERRIDE_FILE))
    error_rate = next(c for c in override.checks if c.name == "http_error_ratio")
    assert error_rate.allowed_effect == 0.4  # the sample's suggestion


def test_false_alarm_target_reaches_the_computation() -> None:
    fake = FakeRun()
    assert _run(_base("--false-alarm-target", "0.05"), fake)[0] == EXIT_PASS
    assert fake.calls[0]["false_alarm_target"] == 0.05


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        ([*_base()[:-2], "--since", "yesterday"], "--since 'yesterday' is not a time"),
        (_base("--until", "now-40d"), "is not after --since"),
        (_base("--until", "now+1d"), "is in the future"),
        ([*_base()[:-2], "--since", "400d"], "spans 400 days, more than 366"),
        ([*_base()[:-2], "--since", "10m"], "shorter than an hour"),
        (_base("--false-alarm-target", "2"), "--false-alarm-target 2 must be above 0 and at most 0.5"),
        (_base("--false-alarm-target", "often"), "--false-alarm-target 'often' is not a number"),
        (_base("--profile", "no-such-profile"), "no-such-profile"),
    ],
)
def test_argument_errors_exit_3_with_one_line(argv: list[str], reason: str) -> None:
    fake = FakeRun()
    code, stderr = _run(argv, fake)
    assert code == EXIT_ERROR
    assert fake.calls == []
    [line] = stderr.splitlines()
    assert line.startswith("monitor: error: ") and reason in line


def test_out_naming_a_file_is_an_error(tmp_path: Path) -> None:
    existing = tmp_path / "file"
    existing.write_text("")
    code, stderr = _run(_base("--out", str(existing)))
    assert code == EXIT_ERROR and "--out" in stderr and "is a file" in stderr


def test_no_prometheus_url_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_PROMETHEUS_URL", raising=False)
    code, stderr = _run(["--service", "checkout", "--since", "30d"])
    assert code == EXIT_ERROR and "no Prometheus URL; pass --prometheus-url" in stderr


def test_parser_errors_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--prometheus-url", URL, "--since", "30d"])
    assert exited.value.code == EXIT_ERROR
    assert "the following arguments are required: --service" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["backtest", *_base("--output", "pdf")])
    assert exited.value.code == EXIT_ERROR


def test_a_failing_computation_is_one_line_and_exit_3() -> None:
    class Failing(FakeRun):
        async def __call__(self, source: Any, *args: Any, **kwargs: Any) -> Backtest:
            kwargs["progress"](3, 10, "replaying")
            raise InputError("profile otel-http: no metrics counts check with an 'exposure' query")

    code, stderr = _run(_base(), Failing())
    assert code == EXIT_ERROR
    assert stderr.splitlines()[-1] == (
        "monitor: error: profile otel-http: no metrics counts check with an 'exposure' query"
    )


def test_help_has_an_example_and_relative_times(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "example: monitor backtest --prometheus-url http://prometheus:9090 --service checkout --since 30d"
        in out
    )
    assert "(default: now)" in out and "(default: 0.01)" in out and "30d" in out


def test_since_is_a_duration_back_from_now_or_a_time() -> None:
    assert backtest_span("30d", "now", NOW).start == datetime(2026, 10, 21, 12, 0, tzinfo=UTC)
    assert backtest_span("2w", "now-1d", NOW).end == datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
    assert backtest_span("now-1h", "now", NOW).start == datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
    assert backtest_span("2026-11-01T00:00:00Z", "now", NOW).start == datetime(2026, 11, 1, tzinfo=UTC)


class Clock:
    """Monotonic seconds that a test advances."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_progress_into_a_log_is_one_line_per_tenth() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(stream, label="backtest", tty=False, clock=clock)
    for done in range(101):
        clock.now_s = done * 0.5
        bar(done, 100, "replaying")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # 0 %, 10 %, ..., 100 %
    assert lines[5] == "backtest [############............] 50/100  50% ETA 25 s: replaying"
    assert lines[0].endswith("ETA ?: replaying") and "100/100 100% ETA 0 s" in lines[-1]
    assert "\r" not in stream.getvalue()


def test_progress_on_a_terminal_redraws_in_place() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(stream, label="backtest", tty=True, clock=clock)
    bar(0, 4, "reading traffic")
    bar(1, 4, "too soon to redraw")  # within REDRAW_S of the last drawing
    clock.now_s = 1.0
    bar(2, 4, "replaying")
    clock.now_s = 1.01
    bar(4, 4, "done")  # the end is always drawn, and ends the line
    text = stream.getvalue()
    assert text.count("\r") == 3 and "too soon" not in text
    assert "\r" + "backtest [############............] 2/4  50% ETA 1 s: replaying\x1b[K" in text
    assert text.endswith("4/4 100% ETA 0 s: done\x1b[K\n")


def test_an_unfinished_bar_ends_its_line_before_an_error() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, tty=True, clock=Clock())
    bar(1, 4, "replaying")
    bar.close()
    bar.close()
    assert stream.getvalue().endswith("\x1b[K\n") and stream.getvalue().count("\n") == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "ETA ?"), (42.4, "ETA 42 s"), (65, "ETA 1 min 05 s"), (7260, "ETA 2 h 01 min")],
)
def test_eta_text(seconds: float | None, text: str) -> None:
    assert eta_text(seconds) == text


@pytest.mark.prometheus
def test_end_to_end_on_a_simulated_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three days, three deploys (one a canary), one regressing: found, and judged as they were."""
    history = simulate_history(SMALL)
    since, until = format_time(history.span.start), format_time(history.span.end)
    out = tmp_path / "out"
    with history_into_prometheus(history, tmp_path / "prometheus") as prometheus:
        flags = ["--prometheus-url", prometheus.url, "--service", SMALL.service, "--out", str(out)]
        code = main(["backtest", *flags, "--since", since, "--until", until])
    err = capsys.readouterr().err
    assert code == EXIT_PASS, err
    document = json.loads((out / "backtest.json").read_text())
    found = [(d["version"], d["baseline_version"], d["mode"]) for d in document["deploys"]]
    assert found == [(d.version, d.previous_version, d.mode.value) for d in history.deploys]
    for deploy, truth in zip(document["deploys"], history.deploys, strict=True):
        assert (deploy["verdict"] == "fail") == truth.regressed, (deploy["version"], deploy["summary"])
    assert document["calibration"] and all(c["trials"] > 0 for c in document["calibration"])
    assert "backtest [" in err and "100%" in err
    csv_rows = (out / "backtest.csv").read_text().count("\n") - 1
    assert csv_rows == sum(len(d["looks"]) for d in document["deploys"])
    assert '<svg id="timeline"' in (out / "backtest.html").read_text()
