"""What the demos show a newcomer: the commands they run and the headings that explain them.

``make demo`` and ``make demo-up`` print every command as one would type it (``monitor ...``) and
run exactly that command, as ``python -m monitor.cli`` with this interpreter so that it works from
the virtualenv without activating it. The command lines are built here once, so what is printed
is what ran, and the two demos print the same commands.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

from monitor.simulate.scenario import SimulatedRun
from monitor.timeparse import format_time

_WIDTH = 100


def heading(title: str, *paragraphs: str) -> None:
    """Print a step's title and what it shows, wrapped for a terminal."""
    print(f"\n== {title} ==", flush=True)
    for paragraph in paragraphs:
        print(textwrap.fill(paragraph, _WIDTH, initial_indent="   ", subsequent_indent="   "), flush=True)
    print(flush=True)


def shown(argv: list[str], *, background: bool = False) -> str:
    """``argv`` as a shell line to copy (``&`` when it runs in the background)."""
    return f"$ {shlex.join(argv)}" + (" &" if background else "")


def python_argv(argv: list[str]) -> list[str]:
    """The ``monitor ...`` command ``argv`` as this interpreter runs it."""
    return [sys.executable, "-m", "monitor.cli", *argv[1:]]


def run_shown(argv: list[str]) -> int:
    """Print ``argv`` as a shell line, run it with its output on the terminal; its exit code."""
    print(shown(argv), flush=True)
    return subprocess.call(python_argv(argv))


def analyze_argv(prometheus_url: str, run: SimulatedRun) -> list[str]:
    """``monitor analyze`` over ``run``'s whole canary window, one look a minute."""
    return [
        "monitor", "analyze", "--prometheus-url", prometheus_url, "--service", run.scenario.name,
        "--canary-version", run.scenario.canary_version,
        "--baseline-version", run.scenario.baseline_version,
        "--start", format_time(run.canary_window.start),
        "--end", format_time(run.canary_window.end), "--interval", "1m",
    ]  # fmt: skip


def serve_argv(port: int, prometheus_url: str, database: Path, config: Path) -> list[str]:
    """``monitor serve`` on loopback ``port`` with a SQLite ``database`` and ``config``."""
    return [
        "monitor", "serve", "--listen", f"127.0.0.1:{port}", "--prometheus-url", prometheus_url,
        "--database", f"sqlite:///{database}", "--config", str(config),
    ]  # fmt: skip


def gate_argv(url: str, token_file: Path, run: SimulatedRun, *, timeout: str = "60s") -> list[str]:
    """``monitor gate`` registering ``run``'s canary in production, deployed when its window began."""
    return [
        "monitor", "gate", "--url", url, "--token-file", str(token_file),
        "--service", run.scenario.name, "--environment", "production",
        "--version", run.scenario.canary_version, "--baseline-version", run.scenario.baseline_version,
        "--started-at", format_time(run.canary_window.start), "--max-duration", "20m",
        "--timeout", timeout,
    ]  # fmt: skip


def write_daemon_config(workdir: Path, token: str, more_yaml: str = "") -> Path:
    """``workdir/monitor.yaml``: one API token (``workdir/ci.token``, read and deploy scopes) and
    the sections ``more_yaml`` if given; return its path."""
    token_file = workdir / "ci.token"
    token_file.write_text(token)
    config = workdir / "monitor.yaml"
    tokens = f"tokens:\n  - {{name: ci, scopes: [read, deploy], token_file: {token_file}}}\n"
    config.write_text(tokens + more_yaml)
    return config


def report_link_argv(config: Path, deployment_id: str | None) -> list[str]:
    """``monitor report-link``: a fresh signed link to ``deployment_id``'s report, or (None) to the
    deployments index page, from ``config``'s key file and public URL."""
    target = [deployment_id] if deployment_id else ["--index"]
    return ["monitor", "report-link", "--config", str(config), *target]
