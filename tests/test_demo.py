"""``make demo`` (the README's first command) runs as designed and explains itself; ``make demo-up``
leaves a Prometheus and a daemon to try the printed commands on, and ``make demo-down`` stops them."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.exitcodes import EXIT_FAIL, EXIT_PASS
from monitor.simulate.demo_up import PROCESSES, main


def test_the_demo_runs_as_designed_and_says_what_it_shows() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor.simulate.demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    out = result.stdout
    assert "demo ran as designed" in out
    assert out.count("as designed") >= 4  # two analyses, the gate, and the summary
    assert "signature verified" in out
    headings = re.findall(r"^== (\d)\. ", out, flags=re.MULTILINE)
    assert headings == ["1", "2", "3", "4"], out
    assert "warm-up (production: 120 s after --started-at" in out  # why analyze and gate differ
    assert "'make demo-up' keeps them running" in out
    commands = [line.split()[1:3] for line in out.splitlines() if line.startswith("$ ")]
    assert commands == [["monitor", "analyze"]] * 2 + [["monitor", "serve"], ["monitor", "gate"]]


def _demo(action: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.simulate.demo_up", action, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _live_processes_of_groups(groups: set[int]) -> list[str]:
    """``ps`` lines of processes (zombies aside) whose process group is one of ``groups``."""
    listing = subprocess.run(
        ["ps", "-e", "-o", "pgid=,stat=,args="], capture_output=True, text=True, check=True
    )
    return [
        line
        for line in listing.stdout.splitlines()
        if int(line.split()[0]) in groups and not line.split()[1].startswith("Z")
    ]


@pytest.fixture
def demo_state(tmp_path: Path) -> Iterator[Path]:
    """A state dir for demo-up; whatever was started in it is stopped at the end, pass or fail."""
    state = tmp_path / "demo"
    yield state
    _demo("down", state)


@pytest.mark.prometheus
@pytest.mark.subprocess
def test_demo_up_leaves_a_report_to_open_and_commands_that_work_and_demo_down_stops_it(
    demo_state: Path,
) -> None:
    up = _demo("up", demo_state)
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-2000:]
    pids = {int((demo_state / f"{name}.pid").read_text()) for name in PROCESSES}
    assert len(_live_processes_of_groups(pids)) >= 2  # Prometheus, the daemon (and its engine)

    lines = up.stdout.splitlines()
    [report_link] = [line.split()[-1] for line in lines if line.startswith("   the bad canary's report:")]
    [index_link] = [line.split()[-1] for line in lines if line.startswith("   every deployment:")]
    for link in (report_link, index_link):  # signed: a browser opens them without the token
        with urllib.request.urlopen(link, timeout=10) as response:
            assert response.status == 200
            assert "payments" in response.read().decode()
    report_url, _, query = report_link.partition("?")
    assert query.startswith("exp=") and "&sig=" in query
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(report_url, timeout=10)
    assert refused.value.code == 401
    token = (demo_state / "ci.token").read_text().strip()
    request = urllib.request.Request(report_url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    [curl] = [line for line in lines if line.startswith("$ curl")]
    assert f"$(cat {demo_state / 'ci.token'})" in curl

    analyses = [shlex.split(line[2:]) for line in lines if line.startswith("$ monitor analyze")]
    assert [argv[argv.index("--service") + 1] for argv in analyses] == ["checkout", "payments"]
    codes = [subprocess.run([sys.executable, "-m", "monitor.cli", *argv[1:]], capture_output=True,
             check=False, timeout=60).returncode for argv in analyses]  # fmt: skip
    assert codes == [EXIT_PASS, EXIT_FAIL]

    again = _demo("up", demo_state)
    assert again.returncode == 0 and "already running" in again.stdout and report_link in again.stdout
    assert {int((demo_state / f"{name}.pid").read_text()) for name in PROCESSES} == pids

    down = _demo("down", demo_state)
    assert down.returncode == 0, down.stderr
    assert [line.split(":")[0] for line in down.stdout.splitlines() if "stopped (pid" in line] == list(
        PROCESSES
    )
    assert _live_processes_of_groups(pids) == []
    assert not list(demo_state.glob("*.pid"))


@pytest.mark.subprocess
def test_demo_down_stops_nothing_it_did_not_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pid file whose process is not the daemon up started (its pid reused) stops nothing."""
    tmp_path.joinpath("serve.pid").write_text("0\n")  # not a pid at all: nothing to stop either
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        tmp_path.joinpath("prometheus.pid").write_text(f"{other.pid}\n")
        assert main(["down", "--state-dir", str(tmp_path)]) == 0
        assert other.poll() is None, "down stopped a process it did not start"
        assert capsys.readouterr().out.splitlines() == [
            "prometheus: was not running",
            "serve: was not running",
        ]
        assert not list(tmp_path.glob("*.pid"))
    finally:
        other.kill()
        other.wait()
