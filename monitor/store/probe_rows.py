"""A deployment's smoke probes as the ``deployments.probes`` column holds them (JSON text).

Header values are secrets: never stored. A probe registered with headers came from the config (a
registration body cannot send headers), so its entry records ``config: true`` and its header
names; the probe worker re-attaches the config's values at run time (:mod:`monitor.engine.probing`).
Fields a row written by an older release lacks take the definition's defaults.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from monitor.models import JsonScalar, ProbeSpec

# Stored as JSON lists, read back as tuples.
_TUPLES = frozenset({"expected_status", "json_exists", "hosts", "redirect_hosts", "services", "environments"})
_STORED = tuple(f.name for f in fields(ProbeSpec) if f.name != "headers")


def _entry(probe: ProbeSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {name: getattr(probe, name) for name in _STORED}
    for name in _TUPLES:
        entry[name] = list(entry[name])
    entry["json_equals"] = [[path, value] for path, value in probe.json_equals]
    entry["config"] = bool(probe.headers)
    entry["header_names"] = [name for name, _ in probe.headers]
    return entry


def probes_json(probes: Sequence[ProbeSpec]) -> str | None:
    """The column's value for ``probes`` (None for none), without any header value."""
    return json.dumps([_entry(p) for p in probes], sort_keys=True) if probes else None


def _probe(entry: dict[str, Any]) -> ProbeSpec:
    values: dict[str, Any] = {name: entry[name] for name in _STORED if name in entry}
    for name in _TUPLES & values.keys():
        values[name] = tuple(values[name])
    equals: list[list[JsonScalar]] = entry.get("json_equals", [])
    values["json_equals"] = tuple((str(path), value) for path, value in equals)
    return ProbeSpec(**values)


def probes_from(text: str | None) -> tuple[ProbeSpec, ...]:
    """The probes stored in the column (headers empty: the config holds their values)."""
    return tuple(_probe(entry) for entry in json.loads(text)) if text else ()


def config_probes(text: str | None) -> frozenset[str]:
    """The names of the stored probes that came from the config with headers to re-attach."""
    entries: list[dict[str, Any]] = json.loads(text) if text else []
    return frozenset(entry["name"] for entry in entries if entry.get("config"))
