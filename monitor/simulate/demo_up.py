"""``make demo-up`` and ``make demo-down``: the demo's Prometheus and daemon left running, to try by hand.

``up`` backfills the demo's simulated deployments into a Prometheus, starts ``monitor serve`` on
SQLite with an API token and a report-link key, registers the bad ``payments`` canary with ``monitor
gate`` so that there is a report to open, and prints signed links to it and to the deployments
index (a browser opens them without the token), the commands to rerun and how to stop everything.
Both processes run in sessions of their own, so closing the terminal does not stop them; their
process ids go to ``<state dir>/<name>.pid`` and everything else they need (data, config, token,
logs) into the state dir too (``.demo/`` by default). ``down`` stops exactly those processes, with
whatever they started themselves (the daemon's engine process), and removes the pid files; a pid
file naming a process that is not the one ``up`` started (the pid was reused) stops nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import MonitorError, SimulationError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS
from monitor.reportlinks import DEFAULT_LIFETIME_S
from monitor.simulate.demo import SCENARIOS, SIMULATED
from monitor.simulate.demo_steps import (
    analyze_argv,
    gate_argv,
    heading,
    python_argv,
    report_link_argv,
    run_shown,
    serve_argv,
    shown,
    write_daemon_config,
)
from monitor.simulate.prometheus import free_port, simulate_into_prometheus, wait_for_http
from monitor.simulate.scenario import SimulatedRun

STATE_DIR = Path(".demo")
PROCESSES = ("prometheus", "serve")  # each one's pid file is <state dir>/<name>.pid
INSTRUCTIONS = "instructions.txt"  # what up printed last, printed again by an up while running
_STOP_TIMEOUT_S = 10.0


def main(argv: list[str] | None = None) -> int:
    """``python -m monitor.simulate.demo_up up|down [--state-dir DIR]``; exit 0, or 3 on an error."""
    parser = argparse.ArgumentParser(
        prog="python -m monitor.simulate.demo_up",
        description="Leave the demo's Prometheus and monitor serve running (up), or stop them (down).",
    )
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument(
        "--state-dir", type=Path, default=STATE_DIR,
        help=f"pid files, data, config, token and logs (default: {STATE_DIR}/)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    state = args.state_dir.resolve()
    try:
        return up(state) if args.action == "up" else down(state)
    except MonitorError as exc:
        print(f"demo-up: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def up(state: Path) -> int:
    """Start Prometheus and the daemon, register the bad canary, print what to do next."""
    if all(_process_group(state, name) is not None for name in PROCESSES):
        print(
            f"the demo is already running ('make demo-down' stops it):\n{(state / INSTRUCTIONS).read_text()}"
        )
        return EXIT_PASS
    _stop_all(state, quiet=True)  # the rest of a start that failed half-way
    state.mkdir(parents=True, exist_ok=True)
    for stale in state.glob("monitor.db*"):
        stale.unlink()
    heading("make demo-up: what is simulated", SIMULATED)
    try:
        instructions = _instructions(_start(state))
    except BaseException:
        _stop_all(state, quiet=True)
        raise
    (state / INSTRUCTIONS).write_text(instructions)
    print(instructions, flush=True)
    return EXIT_PASS


@dataclass(frozen=True)
class _Started:
    """What :func:`_start` left running, for the instructions."""

    state: Path
    prometheus_url: str
    url: str  # monitor serve's
    runs: Mapping[str, SimulatedRun]
    gate: list[str]
    deployment_id: str


def _start(state: Path) -> _Started:
    prometheus, runs = simulate_into_prometheus(SCENARIOS, state / "prometheus", detach=True)
    prometheus.start()
    _write_pid(state, "prometheus", prometheus.pid)
    print(f"Prometheus is serving them at {prometheus.url}", flush=True)

    token = secrets.token_hex(16)
    (state / "report-link.key").write_text(secrets.token_hex(32))  # signs links a browser opens
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = write_daemon_config(
        state, token, f"public_url: {url}\nreport_links: {{key_file: {state / 'report-link.key'}}}\n"
    )
    serve = serve_argv(port, prometheus.url, state / "monitor.db", config)
    heading(
        "monitor serve, in the background, and monitor gate registering the bad canary",
        "The gate's deploy was hours ago, so the daemon catches up at once: the verdict is final in a "
        "second or two, and its report is there to open.",
    )
    print(shown(serve, background=True), flush=True)
    with (state / "serve.log").open("ab") as log:
        daemon = subprocess.Popen(
            python_argv(serve), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: down stops it with its engine process
        )  # fmt: skip
    _write_pid(state, "serve", daemon.pid)
    if not wait_for_http(f"{url}/healthz"):
        raise SimulationError(
            f"monitor serve did not answer at {url}/healthz within 30 s: see {state / 'serve.log'}"
        )
    gate = gate_argv(url, state / "ci.token", runs["payments"])
    code = run_shown(gate)
    print(f"exit code {code}: {'as designed' if code == EXIT_FAIL else 'NOT as designed (wanted 1)'}")
    return _Started(state, prometheus.url, url, runs, gate, _latest_deployment(url, token, "payments"))


def _instructions(up: _Started) -> str:
    """What to open and rerun, with the links signed now by ``monitor report-link`` (printed too)."""
    config, token_file = up.state / "monitor.yaml", up.state / "ci.token"
    report_link, index_link = (report_link_argv(config, d) for d in (up.deployment_id, None))
    header = f'-H "Authorization: Bearer $(cat {shlex.quote(str(token_file))})"'
    return "\n".join(
        [
            "\n== The demo is up: try it ==",
            f"   Prometheus  {up.prometheus_url}   (log {up.state / 'prometheus' / 'prometheus.log'})",
            f"   monitor     {up.url}   (log {up.state / 'serve.log'}; API token in {token_file})",
            "",
            f"Open in a browser, no token needed (signed links, {DEFAULT_LIFETIME_S / 86400:g} days valid):",
            f"   the bad canary's report:  {_run_quietly(report_link)}",
            f"   every deployment:         {_run_quietly(index_link)}",
            "",
            "Rerun what the demo ran ('monitor' is .venv/bin/monitor; . .venv/bin/activate puts it on PATH):",
            *(shown(analyze_argv(up.prometheus_url, up.runs[name])) for name in ("checkout", "payments")),
            f"{shown(up.gate)}   # registers it again",
            f"{shown(report_link)}   # a fresh signed link",
            f"$ curl -s {header} {up.url}/api/v1/deployments/{up.deployment_id}   # the API, with the token",
            "",
            "Stop it all: make demo-down",
        ]
    )


def _run_quietly(argv: list[str]) -> str:
    """The stdout of the ``monitor ...`` command ``argv``, stripped."""
    result = subprocess.run(python_argv(argv), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SimulationError(f"{shlex.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _latest_deployment(url: str, token: str, service: str) -> str:
    """The id of the deployment of ``service`` registered last."""
    request = urllib.request.Request(
        f"{url}/api/v1/deployments?service={service}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        deployments = json.loads(response.read())["deployments"]
    if not deployments:
        raise SimulationError(
            f"monitor serve at {url} holds no deployment of {service}: the gate did not register it"
        )
    return str(max(deployments, key=lambda d: str(d["created_at"]))["id"])


def down(state: Path) -> int:
    """Stop what ``up`` started in ``state``; exit 0 (also when nothing was running)."""
    if not _stop_all(state, quiet=False):
        print(f"nothing to stop: no pid file in {state}")
    return EXIT_PASS


def _stop_all(state: Path, *, quiet: bool) -> bool:
    """Stop every process with a pid file in ``state`` and remove the files; False if there were none."""
    found = False
    for name in PROCESSES:
        path = state / f"{name}.pid"
        if not path.exists():
            continue
        found = True
        group = _process_group(state, name)
        if group is not None:
            _stop_group(group)
        path.unlink()
        if not quiet:
            print(f"{name}: " + (f"stopped (pid {group})" if group is not None else "was not running"))
    return found


def _write_pid(state: Path, name: str, pid: int) -> None:
    (state / f"{name}.pid").write_text(f"{pid}\n")


def _process_group(state: Path, name: str) -> int | None:
    """The process group ``up`` started as ``name`` (its leader's pid) while any of it lives, else None.

    A live leader counts only if its command line names ``state`` (Prometheus' storage path, the
    daemon's database path): a reused pid is someone else's process. A leader gone while others of
    its group live (the daemon's engine process) still counts: Linux does not hand out a pid that
    is some live process' group id.
    """
    try:
        pid = int((state / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    if pid <= 1:  # never init's group, nor 0: killpg(0) would signal our own group
        return None
    members = _live_group_members(pid)
    if not members:
        return None
    if pid in members and str(state) not in _command_line(pid):
        return None
    return pid


def _live_group_members(pgid: int) -> set[int]:
    """The processes of group ``pgid`` that have not exited (zombies are gone but for their parent)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp
            members.add(int(stat.parent.name))
    return members


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stop_group(pgid: int) -> None:
    """SIGTERM the group, SIGKILL what is left after :data:`_STOP_TIMEOUT_S`; return once all exited."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not _live_group_members(pgid):
                return
            time.sleep(0.05)
    raise SimulationError(f"process group {pgid} still runs after SIGKILL")


if __name__ == "__main__":
    sys.exit(main())
