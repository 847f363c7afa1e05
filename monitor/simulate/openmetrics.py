"""Write simulated runs as OpenMetrics text that ``promtool tsdb create-blocks-from`` accepts.

Each metric family appears once (its ``# TYPE`` line, then every series of every run, each
series' samples in time order), timestamps are Unix seconds and ``# EOF`` ends the file.
Label names per flavor:

* otel: ``http_server_request_duration_seconds_{bucket,count,sum}{service_name,
  service_version,http_response_status_code[,le]}``, ``process_cpu_time_seconds_total`` and
  ``process_memory_usage_bytes`` ``{service_name,service_version}``;
* prometheus: ``http_requests_total{service,version,code}``,
  ``http_request_duration_seconds_{bucket,count,sum}{service,version[,le]}``,
  ``process_cpu_seconds_total`` and ``process_resident_memory_bytes`` ``{service,version}``.

``le`` values are written like client_python and Prometheus 3 normalise them:
``"0.005"``, ``"1.0"``, ``"+Inf"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from monitor.simulate.scenario import STATUS_CODES, SimulatedRun, VersionData


@dataclass(frozen=True)
class _Series:
    prefix: str  # 'name{labels} '
    values: NDArray[Any]
    timestamps: list[str]  # ' <unix s>\n', shared by all series of one version


@dataclass(frozen=True)
class _Names:
    histogram: str
    requests: str | None  # counter family with a code label (prometheus flavor only)
    cpu: str
    memory: str
    service: str
    version: str
    code: str


_OTEL = _Names(
    histogram="http_server_request_duration_seconds",
    requests=None,
    cpu="process_cpu_time_seconds",
    memory="process_memory_usage_bytes",
    service="service_name",
    version="service_version",
    code="http_response_status_code",
)
_PROMETHEUS = _Names(
    histogram="http_request_duration_seconds",
    requests="http_requests",
    cpu="process_cpu_seconds",
    memory="process_resident_memory_bytes",
    service="service",
    version="version",
    code="code",
)


def write_openmetrics(runs: Sequence[SimulatedRun], path: Path) -> int:
    """Write ``runs`` to ``path`` as one OpenMetrics document; return the number of samples."""
    families: dict[str, tuple[str, list[_Series]]] = {}
    for run in runs:
        names = _OTEL if run.scenario.flavor == "otel" else _PROMETHEUS
        for data in run.versions:
            for family, kind, series in _version_series(names, run.scenario.name, data):
                families.setdefault(family, (kind, []))[1].extend(series)
    samples = 0
    with path.open("w", encoding="utf-8") as out:
        for family, (kind, all_series) in families.items():
            out.write(f"# TYPE {family} {kind}\n")
            for s in all_series:
                values = map(str, s.values.tolist())
                out.write("".join([s.prefix + v + t for v, t in zip(values, s.timestamps, strict=True)]))
                samples += len(s.timestamps)
        out.write("# EOF\n")
    return samples


def _version_series(names: _Names, service: str, data: VersionData) -> list[tuple[str, str, list[_Series]]]:
    timestamps = [f" {t}\n" for t in data.timestamps_s.tolist()]
    base = f'{names.service}="{_escape(service)}",{names.version}="{_escape(data.version)}"'
    # Cumulative over time (counters) and then over buckets (``le`` semantics).
    cumulative = np.cumsum(np.cumsum(data.buckets, axis=0), axis=2)
    sums = np.cumsum(data.latency_sum_s, axis=0)
    les = [_format_le(b) for b in data.upper_bounds_s]

    def histogram(labels: str, buckets: NDArray[np.int64], total_s: NDArray[Any]) -> list[_Series]:
        h = names.histogram
        series = [
            _Series(f'{h}_bucket{{{labels},le="{le}"}} ', buckets[:, i], timestamps)
            for i, le in enumerate(les)
        ]
        series.append(_Series(f"{h}_count{{{labels}}} ", buckets[:, -1], timestamps))
        series.append(_Series(f"{h}_sum{{{labels}}} ", total_s, timestamps))
        return series

    hist: list[_Series] = []
    out: list[tuple[str, str, list[_Series]]] = []
    if names.requests is None:
        for c, code in enumerate(STATUS_CODES):
            labels = f'{base},{names.code}="{code}"'
            hist += histogram(labels, cumulative[:, c, :], sums[:, c])
    else:
        hist = histogram(base, cumulative.sum(axis=1), sums.sum(axis=1))
        requests = [
            _Series(
                f'{names.requests}_total{{{base},{names.code}="{code}"}} ',
                cumulative[:, c, -1],
                timestamps,
            )
            for c, code in enumerate(STATUS_CODES)
        ]
        out.append((names.requests, "counter", requests))
    cpu = _Series(f"{names.cpu}_total{{{base}}} ", np.cumsum(data.cpu_s), timestamps)
    memory = _Series(f"{names.memory}{{{base}}} ", data.memory_bytes, timestamps)
    out += [
        (names.histogram, "histogram", hist),
        (names.cpu, "counter", [cpu]),
        (names.memory, "gauge", [memory]),
    ]
    return out


def _format_le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
