"""Analysis profiles: which checks a run makes and how each is judged.

A profile is YAML (built in: ``otel-http``, ``prometheus-http``; or a file). Every field is
validated on load; an error names the file, the line, the field and the fix. Query templates
are PromQL with placeholders:

``$selector``
    the label matchers of one version, e.g. ``service_name="checkout", service_version="v2"``
``$window``
    the window length, e.g. ``600s``
``$<key>_label``
    the label name mapped to ``<key>`` under ``labels`` (e.g. ``$status_code_label``)
"""

from __future__ import annotations

from pathlib import Path

from monitor.errors import ConfigError
from monitor.profiles.model import CheckSpec, DecisionPolicy, LabelNames, Profile, TrafficPolicy

BUILTIN_PROFILES = ("otel-http", "prometheus-http")
DEFAULT_PROFILE = "otel-http"


def load_profile(name_or_path: str | None) -> Profile:
    """Load a built-in profile by name or a profile file by path (default ``otel-http``)."""
    target = name_or_path or DEFAULT_PROFILE
    if target in BUILTIN_PROFILES:
        # Already parsed and validated from the YAML (monitor.profiles.generate; the tests check they
        # are equal): the YAML parser and the validation models would cost monitor analyze a third
        # of its start.
        from monitor.profiles.builtin import BUILTIN

        return BUILTIN[target]
    path = Path(target)
    if not path.exists():
        raise ConfigError(
            f"profile '{target}' is neither a built-in ({', '.join(BUILTIN_PROFILES)}) nor an existing file; "
            "pass a built-in name or the path of a profile YAML"
        )
    # A user's file: parsed and validated here, with errors naming the file, line and field.
    from monitor.profiles.parse import parse_profile
    from monitor.yamlfile import load_yaml_file

    return parse_profile(load_yaml_file(path))


__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_PROFILE",
    "CheckSpec",
    "DecisionPolicy",
    "LabelNames",
    "Profile",
    "TrafficPolicy",
    "load_profile",
]
