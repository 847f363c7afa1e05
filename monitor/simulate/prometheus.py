"""Backfill simulated runs into a TSDB with promtool and serve it with a managed Prometheus."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from subprocess import STDOUT
from types import TracebackType
from typing import IO, Self

from monitor.errors import SimulationError
from monitor.simulate.openmetrics import write_openmetrics
from monitor.simulate.scenario import Scenario, SimulatedRun, simulate

_INSTALL_HINT = "install it: apt-get install prometheus (make setup does this)"
_HEAD_BLOCK_S = 3 * 3600  # data newer than this would overlap Prometheus' head block


def _executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SimulationError(f"{name} not found on PATH; {_INSTALL_HINT}")
    return path


def backfill(openmetrics_path: Path, data_dir: Path, *, promtool: str = "promtool") -> None:
    """Turn an OpenMetrics file into TSDB blocks in ``data_dir`` (created if missing)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [_executable(promtool), "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
    result = subprocess.run(
        [*command, str(openmetrics_path), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip() or f"exit code {result.returncode}"
        raise SimulationError(f"promtool could not backfill {openmetrics_path}: {reason}")


def default_start_unix_s(now: datetime | float | None = None) -> int:
    """A start time safely in the past for backfilling: ``now`` - 6 h, down to the whole hour.

    Repeated calls within one hour return the same value, so reruns reuse the same times.
    """
    now_s = time.time() if now is None else now.timestamp() if isinstance(now, datetime) else now
    return int((now_s - 6 * 3600) // 3600 * 3600)


def wait_for_http(url: str, timeout_s: float = 30.0) -> bool:
    """Poll ``url`` until it answers 2xx; False if it never did within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if 200 <= response.status < 300:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class PrometheusProcess:
    """A Prometheus server without scrape jobs that serves the TSDB in ``data_dir``.

    Use it as a context manager or call :meth:`start` and :meth:`stop`. The config and log
    go to ``workdir`` (kept) or, if omitted, to a temporary directory removed by :meth:`stop`.
    Without ``port`` a free loopback port is picked. ``web_config_yaml`` is Prometheus'
    ``--web.config.file`` (basic auth users, TLS); ``ready_headers`` then authenticate the
    readiness probe. ``detach`` leaves it running when this process exits (``make demo-up``): it
    gets a session of its own and no stop at exit; whoever started it stops it by :attr:`pid`.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        workdir: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str = "prometheus",
        ready_timeout_s: float = 30.0,
        stop_timeout_s: float = 10.0,
        config_yaml: str = "scrape_configs: []\n",
        web_config_yaml: str | None = None,
        ready_headers: Mapping[str, str] | None = None,
        detach: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self._detach = detach
        self._config_yaml = config_yaml
        self._web_config_yaml = web_config_yaml
        self._ready_headers = dict(ready_headers or {})
        self._dir, self._own_dir = workdir, False
        self._host = host
        self._port = port
        self._binary = binary
        self._ready_timeout_s = ready_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._address: tuple[str, int] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``; only while running."""
        if self._address is None:
            raise SimulationError("Prometheus is not running; call start() or use it in a with block")
        return f"http://{self._address[0]}:{self._address[1]}"

    @property
    def log_path(self) -> Path:
        """Where Prometheus logs (removed by :meth:`stop` when no ``workdir`` was given)."""
        if self._dir is None:
            raise SimulationError("Prometheus has no log: it was not started")
        return self._dir / "prometheus.log"

    @property
    def pid(self) -> int:
        """The process id; only while running."""
        if self._process is None:
            raise SimulationError("Prometheus is not running; call start() or use it in a with block")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start Prometheus and wait until ``/-/ready`` answers 200; no-op if running."""
        if self.running:
            return self
        executable = _executable(self._binary)
        if not self._detach:
            atexit.register(self.stop)
        try:
            self._start(executable)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, executable: str) -> None:
        if self._dir is None:
            self._dir, self._own_dir = Path(tempfile.mkdtemp(prefix="monitor-prometheus-")), True
        self._dir.mkdir(parents=True, exist_ok=True)
        config = self._dir / "prometheus.yml"
        config.write_text(self._config_yaml, encoding="utf-8")
        web_args = []
        if self._web_config_yaml is not None:
            web_config = self._dir / "web.yml"
            web_config.write_text(self._web_config_yaml, encoding="utf-8")
            web_args = [f"--web.config.file={web_config}"]
        # Another process may grab a picked free port before Prometheus binds it: retry.
        for _attempt in range(3):
            port = self._port or free_port(self._host)
            address = f"{self._host}:{port}"
            self._log = self.log_path.open("ab")
            args = [f"--config.file={config}", f"--storage.tsdb.path={self.data_dir}"]
            args += ["--storage.tsdb.retention.time=100y", f"--web.listen-address={address}", *web_args]
            self._process = subprocess.Popen(
                [executable, *args], stdin=subprocess.DEVNULL, stdout=self._log, stderr=STDOUT,
                start_new_session=self._detach,  # a closed terminal's hang-up does not reach it
            )  # fmt: skip
            self._address = (self._host, port)
            if self._wait_ready():
                return
            if self._port is not None or "address already in use" not in self._log_tail():
                break
            self._terminate()
        raise SimulationError(f"Prometheus exited during startup: {self._log_tail()}")

    def _wait_ready(self) -> bool:
        """True once ready, False if the process exited; raises on timeout."""
        assert self._process is not None
        deadline = time.monotonic() + self._ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                probe = urllib.request.Request(f"{self.url}/-/ready", headers=self._ready_headers)
                with urllib.request.urlopen(probe, timeout=1.0) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise SimulationError(
            f"Prometheus at {self.url} not ready after {self._ready_timeout_s:g} s: {self._log_tail()}"
        )

    def stop(self) -> None:
        """Terminate Prometheus (kill after ``stop_timeout_s``) and clean up; idempotent."""
        self._terminate()
        atexit.unregister(self.stop)
        if self._own_dir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir, self._own_dir = None, False

    def _terminate(self) -> None:
        process, self._process, self._address = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self._stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, lines: int = 3) -> str:
        with contextlib.suppress(OSError, SimulationError):
            log = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
            errors = [line for line in log if "level=error" in line or line.startswith("panic")]
            return " | ".join([*(errors or log)[-lines:], f"(log: {self.log_path})"])
        return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class SimulatedPrometheus:
    """A running Prometheus holding simulated runs, keyed by scenario (= service) name."""

    process: PrometheusProcess
    runs: Mapping[str, SimulatedRun]

    @property
    def url(self) -> str:
        """Base URL of the Prometheus HTTP API."""
        return self.process.url


def simulate_into_prometheus(
    scenarios: Sequence[Scenario], workdir: Path, start_unix_s: int | None = None, *, detach: bool = False
) -> tuple[PrometheusProcess, dict[str, SimulatedRun]]:
    """Generate ``scenarios``, backfill them into ``workdir/tsdb`` and return a Prometheus.

    The returned process is **not started**: use it in a ``with`` block (or call ``start()``
    and ``stop()``; ``detach``: see :class:`PrometheusProcess`). All runs share ``start_unix_s``
    (default :func:`default_start_unix_s`).
    ``workdir/tsdb`` is replaced; ``workdir/metrics.om`` and the Prometheus log are kept.
    """
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise SimulationError(f"scenario names must be unique (they are service names): {names}")
    start = default_start_unix_s() if start_unix_s is None else start_unix_s
    runs = {s.name: simulate(s, start) for s in scenarios}
    latest_s = max((int(v.timestamps_s[-1]) for r in runs.values() for v in r.versions), default=0)
    if latest_s > time.time() - _HEAD_BLOCK_S:
        raise SimulationError(
            f"simulated data reach {latest_s}, within 3 h of now; backfilled data must be older "
            "than Prometheus' head block: pass an earlier start_unix_s or use the default"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    openmetrics_path = workdir / "metrics.om"
    write_openmetrics(list(runs.values()), openmetrics_path)
    tsdb = workdir / "tsdb"
    shutil.rmtree(tsdb, ignore_errors=True)
    backfill(openmetrics_path, tsdb)
    return PrometheusProcess(tsdb, workdir=workdir, detach=detach), runs
