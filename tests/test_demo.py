"""``make demo`` (the README's first command) runs as designed: analyze, serve, gate, webhook."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.prometheus


def test_the_demo_runs_as_designed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor.simulate.demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "demo ran as designed" in result.stdout
    assert result.stdout.count("as designed") >= 4  # two analyses, the gate, and the summary
    assert "signature verified" in result.stdout
