"""``monitor analyze --probe`` over a past window warns that the probes judge what answers now, and
Ctrl-C during the probes' run ends it with 130 and one line (a real CLI process, a real local server)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

import pytest
from probe_server import Target

from monitor.cli import build_parser
from monitor.commands.analyze import EXIT_INTERRUPTED, probe_warnings, request_from_args
from monitor.timeparse import format_time

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _argv(end: datetime, *probes: str) -> list[str]:
    probe_args = [arg for url in probes for arg in ("--probe", url)]
    return [
        "analyze", "--prometheus-url", "http://127.0.0.1:9", "--service", "checkout",
        "--canary-version", "v2", "--baseline-version", "v1",
        "--start", format_time(end - timedelta(minutes=30)), "--end", format_time(end), *probe_args,
    ]  # fmt: skip


def _warnings(end: datetime, *probes: str, now: datetime) -> list[str]:
    request, _, _ = request_from_args(build_parser().parse_args(_argv(end, *probes)))
    return probe_warnings(request, now)


def test_probes_over_a_window_past_ten_minutes_warn_what_they_judge() -> None:
    end = datetime.now(UTC) - timedelta(hours=2)
    plain, versioned = "https://checkout.example.com/health", "https://checkout.example.com/v/{version}"
    assert _warnings(end, plain, versioned, now=end + timedelta(hours=2)) == [
        "monitor: warning: --end is 120 minutes ago: the probes run now, against what answers now, "
        "not during the analysed window",
        "monitor: warning: probe smoke-1's URL has no {version}: it may reach another version than v2, "
        "the one analysed",
    ]
    assert _warnings(end, plain, now=end + timedelta(minutes=9)) == []  # the window is as good as now
    assert _warnings(end, now=end + timedelta(hours=2)) == []  # no probes, nothing to warn about


@pytest.mark.subprocess
async def test_ctrl_c_during_the_probes_run_exits_130_with_one_line(target: Target) -> None:
    end = datetime.now(UTC) - timedelta(hours=1)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *_argv(end, target.url("/ok")),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stderr is not None and process.stdout is not None
    before: list[str] = []
    async with asyncio.timeout(60):
        # The first attempt answers at once; the second is 10 s away: the run is under way.
        while not (line := (await process.stderr.readline()).decode()).startswith("probe smoke-1: attempt 1"):
            assert line, f"the command ended early: {before}"
            before.append(line)
        process.send_signal(signal.SIGINT)
        rest = (await process.stderr.read()).decode()
        code = await process.wait()
    assert "monitor: warning: --end is 60 minutes ago: the probes run now" in before[0]
    assert code == EXIT_INTERRUPTED
    assert rest == "monitor: interrupted\n"  # no traceback
    assert await process.stdout.read() == b""  # no verdict
