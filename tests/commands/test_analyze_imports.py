"""``monitor analyze`` stays fast to start: what it imports, checked in a fresh interpreter.

A one-shot analysis spends most of its time importing (bench/analyze_latency.py); the daemon's
modules (the store and SQLAlchemy, aiohttp's server, the OTLP receiver) must stay off its path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Packages the daemon needs and a one-shot analysis must not import, with why they are heavy.
DAEMON_ONLY = (
    "monitor.store",  # the store: SQLAlchemy and Alembic
    "sqlalchemy",
    "alembic",
    "aiohttp.web",  # the API's server
    "monitor.api",
    "monitor.otlp.aggregate",  # the receiver's aggregator: protobuf and the log template miner
    "drain3",
    "google.protobuf",
    "kubernetes_asyncio",  # rollback actions
    "grafana_client",  # provisioning
    "pandas",
)
# The pulled log and trace backends, loaded when one is configured or given by a flag.
PULLED_ONLY = (
    "monitor.sources.loki",
    "monitor.sources.tempo",
    "monitor.sources.jaeger",
    "monitor.otlp.pulled",
)
# What reading a file takes: the YAML parser and the validation models (pydantic). A run with a
# built-in profile and no --config reads no file, and they are a fifth of its start.
FILE_READING = ("yaml", "pydantic", "pydantic_core", "monitor.config.file", "monitor.profiles.parse")


def _imported(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    listing = "import sys; print('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{listing}"], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


def _offending(modules: set[str], packages: tuple[str, ...] = DAEMON_ONLY) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in packages))


def test_the_analyze_command_imports_none_of_the_daemon() -> None:
    """The parser and the command's module, as ``python -m monitor analyze`` loads them."""
    modules = _imported("import monitor.cli, monitor.commands.analyze, monitor.report")
    assert "monitor.commands.analyze" in modules and "monitor.engine.evaluate" in modules
    assert _offending(modules) == [] and _offending(modules, FILE_READING) == []
    # scipy.special's package import alone costs more than the rest (see monitor/stats/special.py).
    assert "scipy.special._ufuncs" in modules and "scipy.special._support_alternative_backends" not in modules


def test_a_whole_analysis_imports_none_of_the_daemon() -> None:
    """A run to its verdict (Prometheus refuses: every check errors, the command exits 3) loads
    nothing from the daemon on the way, lazily imported modules included."""
    run = (
        "from monitor.cli import main\n"
        "code = main(['analyze', '--prometheus-url', 'http://127.0.0.1:9', '--service', 's',"
        " '--canary-version', 'v2', '--baseline-version', 'v1',"
        " '--start', '2026-01-01T00:00:00Z', '--end', '2026-01-01T00:20:00Z', '--output', 'json'])\n"
        "assert code == 3, code"
    )
    modules = _imported(run)
    assert "monitor.judges.checks" in modules
    assert _offending(modules) == []
    assert _offending(modules, FILE_READING) == [] and _offending(modules, PULLED_ONLY) == []


def test_a_config_file_loads_the_validation_models(tmp_path: Path) -> None:
    """With --config the file is validated as before (the check above would see the models)."""
    config = tmp_path / "monitor.yaml"
    config.write_text("environment: staging\n")
    code = f"import pathlib, monitor.config\nmonitor.config.load_settings(pathlib.Path({str(config)!r}))"
    modules = _imported(code)
    assert {"yaml", "pydantic", "monitor.config.file"} <= modules


def test_the_check_sees_a_daemon_import() -> None:
    """The same check flags the store when something imports it (a pass above means something)."""
    flagged = _offending(_imported("import monitor.commands.analyze, monitor.store"))
    assert "monitor.store" in flagged and "sqlalchemy" in flagged


def test_the_command_loads_numpy_with_one_blas_thread() -> None:
    """OpenBLAS's thread pool costs a one-shot run its start (monitor/cli.py); no child inherits it.

    Threads are counted in Linux's /proc, as on every machine the monitor runs and is tested on."""
    code = (
        "import os\nfrom monitor.cli import _one_blas_thread\nwith _one_blas_thread():\n"
        "    import monitor.commands.analyze\n"
        "print(len(os.listdir('/proc/self/task')), 'OPENBLAS_NUM_THREADS' in os.environ)"
    )
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    argv = [sys.executable, "-c", code]
    result = subprocess.run(argv, capture_output=True, text=True, check=True, env=environ)
    assert result.stdout.split() == ["1", "False"]
