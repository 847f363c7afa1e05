"""Fuzz: analysis profiles, parsed from YAML text and loaded from files.

Inputs: the built-in profiles with one to three values replaced, deleted or added at any depth
(dumped with ``yaml.safe_dump``), the replacements drawn from what fits some profile field
(comparison kinds, signals, PromQL templates with good and bad placeholders) and from any YAML
value; YAML-ish text and YAML's hostile features; bytes mutated from a built-in profile.

Property: parsing gives a :class:`Profile` that keeps the documented rules, or raises
:class:`ConfigError`; never another exception, never a hang.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.profiles import fuzz_profile
from fuzz.strategies import NUMBERS, TEXT, YAML_HOSTILE, YAML_TEXT, YAML_VALUES, corrupted, mutated
from monitor.errors import ConfigError
from monitor.models import ComparisonKind, Signal
from monitor.profiles import BUILTIN_PROFILES, Profile, load_profile
from monitor.profiles.kinds import registrations
from monitor.profiles.parse import parse_profile
from monitor.yamlfile import parse_yaml

TEXTS = [
    resources.files("monitor.profiles").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    for name in BUILTIN_PROFILES
]
BASES = [yaml.safe_load(text) for text in TEXTS]

_TEMPLATES = ["sum(rate(x{$selector}[$window]))", "x{$selector} ${foo}", "x{${selector}}", "x{$selector} $",
              "x{$selector} $$", 'x{$selector, $status_code_label=~"5.."}', "x{$selector} $9",
              "x{$selector} $é", "x{$selector} ${", "no selector"]  # fmt: skip
PLAUSIBLE = st.sampled_from(
    [*(k.value for k in ComparisonKind), *(s.value for s in Signal), "regression", "traffic", "increase",
     "decrease", "latency", "errors", "requests", "regress", *(r.key for r in registrations()),
     "http_error_ratio", "Bad-Name", *_TEMPLATES, "", True, False, None, 0, 0.5, 1, 95, 100, 1e12, -1,
     [0.5], []]
)  # fmt: skip
KEYS = st.sampled_from(
    ["name", "comparison", "signal", "purpose", "events", "exposure", "buckets", "series", "direction",
     "weight", "quantiles", "from_spans", "new_items", "allowed_decrease", "labels", "decision", "checks",
     "pass_score", "marginal_score", "service", "version", "alpha"]
) | TEXT  # fmt: skip
DOCUMENTS = st.sampled_from(BASES).flatmap(
    lambda base: corrupted(base, PLAUSIBLE | NUMBERS | YAML_VALUES, KEYS)
)


def _check(profile: Profile) -> None:
    """The rules a parsed profile keeps: named, unique checks whose templates substitute."""
    event("Profile")
    assert profile.name and profile.checks
    assert len({check.name for check in profile.checks}) == len(profile.checks)
    assert profile.decision.marginal_score <= profile.decision.pass_score
    values = {"selector": "s", "window": "60s", **profile.labels.placeholders()}
    for check in profile.checks:
        for template in (check.events, check.exposure, check.buckets, check.series):
            if template is not None and check.signal is Signal.METRICS:
                Template(template).substitute(values)  # as the source renders it
        assert all(0 < q < 1 for q in check.quantiles)


def parse_text(text: str) -> None:
    """The property, for profile text."""
    try:
        profile = parse_profile(parse_yaml(text, "fuzz.yaml"))
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml"), exc
        event("ConfigError")
    else:
        _check(profile)


def test_the_bases_are_valid() -> None:
    for text in TEXTS:
        assert parse_profile(parse_yaml(yaml.safe_dump(yaml.safe_load(text)), "base")).checks


def _with_exposure(template: str) -> dict[str, Any]:
    document = copy.deepcopy(BASES[0])
    document["checks"][0]["exposure"] = template
    return document


@fuzz_profile
@given(document=DOCUMENTS | YAML_VALUES)
@example(document=_with_exposure("x{$selector} ${foo}"))  # KeyError: a braced unknown placeholder
def test_profile_document_is_a_profile_or_a_config_error(document: Any) -> None:
    parse_text(yaml.safe_dump(document))


@fuzz_profile
@given(text=YAML_TEXT | YAML_HOSTILE | st.text(max_size=200))
@example(text="name: p\nlabels: &a {service: s, version: v, other: *a}\n")  # RecursionError
def test_profile_text_is_a_profile_or_a_config_error(text: str) -> None:
    parse_text(text)


@fuzz_profile
@given(raw=st.binary(max_size=200) | st.sampled_from(TEXTS).map(str.encode).flatmap(mutated))
def test_profile_file_is_a_profile_or_a_config_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "profile.yaml"
    path.write_bytes(raw)
    try:
        profile = load_profile(str(path))
    except ConfigError as exc:
        assert str(path) in str(exc), exc
        event("ConfigError")
    else:
        _check(profile)
