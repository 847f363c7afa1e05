"""The published packages: ``python -m build`` makes an sdist and a wheel that carry the package data.

What is real here: **build** (PyPA's front end) builds the sdist from a copy of the sources, then
the wheel from that sdist, each in its own isolated environment with the setuptools that
``[build-system]`` asks for, exactly as a release would. The wheel is installed with pip into a
fresh venv (``--no-deps``: its dependencies come from this project's venv, put *after* the new
venv's own site-packages by a ``.pth`` file, so ``monitor`` is imported from the installed wheel,
which the test checks), and the installed console script runs.

What ``pip install`` from the repository does for a user (``docs/pipelines.md``) is this build.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# What the build reads: the project's metadata, its readme, and the package.
SOURCES = ("pyproject.toml", "README.md", "monitor")


def _package_files() -> set[str]:
    """Every file of ``monitor/`` a release must carry, as paths inside the wheel."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "monitor").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
    }


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{argv} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` (sdist, then the wheel from it) of a copy of the sources."""
    tree, out = tmp_path_factory.mktemp("tree"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
        else:
            shutil.copy2(source, tree / name)
    build = _run([sys.executable, "-m", "build", "--outdir", str(out), str(tree)], cwd=tree)
    # setuptools warns of deprecated metadata ("`project.license` as a TOML table is deprecated":
    # an SPDX expression is wanted) and will refuse it after its deadline.
    deprecated = [line for line in (build.stdout + build.stderr).splitlines() if "deprecat" in line.lower()]
    assert not deprecated, deprecated
    return out


def test_the_wheel_carries_every_file_of_the_package(dist: Path) -> None:
    (wheel,) = dist.glob("deploy_health_monitor-*-py3-none-any.whl")
    assert wheel.name == f"deploy_health_monitor-{PROJECT['version']}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"deploy_health_monitor-{PROJECT['version']}.dist-info/METADATA").decode()
        entry_points = archive.read(
            f"deploy_health_monitor-{PROJECT['version']}.dist-info/entry_points.txt"
        ).decode()
    missing = _package_files() - names
    assert not missing, f"not in the wheel (pyproject.toml's package-data?): {sorted(missing)}"
    # The data the daemon and the CLI read at run time, named so that a rename is noticed here.
    for needed in (
        "monitor/api/openapi.json",
        "monitor/api/templates/report.html",
        "monitor/schema/verdict.schema.json",
        "monitor/schema/config.schema.json",
        "monitor/profiles/otel-http.yaml",
        "monitor/store/migrations/script.py.mako",
        "monitor/store/migrations/versions/0001_initial.py",
        "monitor/grafana/dashboards/detail.py",
        "monitor/py.typed",
    ):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    assert f"License-Expression: {PROJECT['license']}" in metadata
    assert re.search(r"^monitor = monitor\.cli:main$", entry_points, re.M)


def test_the_sdist_holds_what_a_wheel_is_built_from(dist: Path) -> None:
    (sdist,) = dist.glob("deploy_health_monitor-*.tar.gz")
    prefix = f"deploy_health_monitor-{PROJECT['version']}/"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(prefix) for name in archive.getnames()}
    assert {"pyproject.toml", "README.md"} <= names
    missing = _package_files() - names
    assert not missing, f"not in the sdist: {sorted(missing)}"


def test_the_installed_wheel_runs_from_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-index", "--no-deps", str(wheel)], cwd=tmp_path)
    # The dependencies: this venv's site-packages, after the new venv's own (a .pth line appends).
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    version = _run([str(venv / "bin" / "monitor"), "--version"], cwd=tmp_path).stdout
    assert PROJECT["version"] in version
    probe = (
        "import monitor, json\n"
        "from importlib import resources\n"
        "print(monitor.__file__)\n"
        "print(json.loads(resources.files('monitor.api').joinpath('openapi.json').read_text())['openapi'])\n"
        "from monitor.profiles.catalog import ProfileCatalog\n"
        "print(ProfileCatalog(frozenset()).get('otel-http').name)\n"
    )
    where, openapi, profile = _run([str(python), "-c", probe], cwd=tmp_path).stdout.split()
    assert Path(where).is_relative_to(site), f"monitor imported from {where}, not from the installed wheel"
    assert openapi.startswith("3.") and profile == "otel-http"
