"""Write :mod:`monitor.profiles.builtin`: the built-in profiles as Python objects.

Run ``python -m monitor.profiles.generate`` after editing a built-in profile's YAML (``--check``,
in ``make lint``, reports a stale module). The YAML stays the source: it is what users copy and
what the tests validate; the generated module only spares ``monitor analyze`` the YAML parser and
the validation models on every start (about a third of its time, bench/analyze_latency.py).
``tests/profiles`` fails when the module no longer equals the parsed YAML.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from enum import Enum
from importlib import resources
from pathlib import Path

from monitor.profiles import BUILTIN_PROFILES
from monitor.profiles.model import Profile
from monitor.profiles.parse import parse_profile
from monitor.yamlfile import parse_yaml

TARGET = Path(__file__).with_name("builtin.py")


def parse_builtin(name: str) -> Profile:
    """The built-in profile ``name`` parsed and validated from its YAML."""
    text = resources.files("monitor.profiles").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_profile(parse_yaml(text, f"built-in profile {name}"))


def _code(value: object, classes: set[str]) -> str:
    """``value`` as a Python expression; the classes it names are added to ``classes``."""
    if isinstance(value, Enum):
        classes.add(type(value).__name__)
        return f"{type(value).__name__}.{value.name}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        classes.add(type(value).__name__)
        args = []
        for item in dataclasses.fields(value):
            current = getattr(value, item.name)
            if item.default is not dataclasses.MISSING and current == item.default:
                continue
            if item.default_factory is not dataclasses.MISSING and current == item.default_factory():
                continue
            args.append(f"{item.name}={_code(current, classes)}")
        return f"{type(value).__name__}({', '.join(args)})"
    if isinstance(value, tuple):
        items = [_code(v, classes) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__} as code")


def module_text() -> str:
    """The source of :mod:`monitor.profiles.builtin`, before formatting."""
    classes: set[str] = set()
    entries = [f"    {name!r}: {_code(parse_builtin(name), classes)}," for name in BUILTIN_PROFILES]
    homes = {cls: "monitor.profiles.model" for cls in classes}
    for cls in ("CheckPurpose", "ComparisonKind", "Direction", "Signal"):
        if cls in homes:
            homes[cls] = "monitor.models"
    imports = [
        f"from {module} import {', '.join(sorted(c for c, m in homes.items() if m == module))}"
        for module in sorted(set(homes.values()))
    ]
    return "\n".join(
        [
            '"""The built-in profiles, generated from their YAML by ``python -m monitor.profiles.generate``:',
            "do not edit (tests/profiles checks that it equals the parsed YAML).",
            '"""',
            "",
            "# ruff: noqa: E501 (PromQL templates are written out whole)",
            "",
            "from __future__ import annotations",
            "",
            *imports,
            "",
            "BUILTIN: dict[str, Profile] = {",
            *entries,
            "}",
            "",
        ]
    )


def _formatted(text: str) -> str:
    """``text`` as ``ruff format`` writes it (the checked-in module is formatted)."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff) if ruff.exists() else "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=text, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    """Write the module, or with ``--check`` say whether it is current (exit 1 when stale)."""
    parser = argparse.ArgumentParser(prog="python -m monitor.profiles.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="report a stale module instead of writing it")
    args = parser.parse_args(argv)
    text = _formatted(module_text())
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.name} is stale: run python -m monitor.profiles.generate", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
