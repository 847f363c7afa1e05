"""The generated built-in profiles (monitor/profiles/builtin.py) are their YAML, parsed and validated."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.profiles import BUILTIN_PROFILES, load_profile
from monitor.profiles.generate import TARGET, module_text, parse_builtin


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_the_generated_profile_equals_its_yaml(name: str) -> None:
    parsed = parse_builtin(name)
    assert load_profile(name) == parsed
    # Field by field as well: a difference is named, not only found.
    for generated, expected in zip(load_profile(name).checks, parsed.checks, strict=True):
        assert dataclasses.asdict(generated) == dataclasses.asdict(expected)


def test_the_generated_module_is_current(tmp_path: Path) -> None:
    """The file is the generator's output, formatted: an edit to a YAML without regenerating fails."""
    written = tmp_path / "builtin.py"
    written.write_text(module_text(), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", str(written)], check=True)
    assert written.read_text(encoding="utf-8") == TARGET.read_text(encoding="utf-8")


def test_loading_a_builtin_parses_no_yaml() -> None:
    """The point of the generated module: a built-in loads without the YAML parser or pydantic."""
    code = (
        "import sys; from monitor.profiles import load_profile; load_profile('otel-http');"
        "print(any(m == 'yaml' or m.startswith(('yaml.', 'pydantic')) for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
