"""PromQL of the two baseline judges, over the OpenTelemetry HTTP histogram the simulator writes.

The monitor reads the same data through its ``otel-http`` profile; these queries are the
one-minute series a Kayenta metric set or Flagger's builtin checks would use.
"""

from __future__ import annotations

HISTOGRAM = "http_server_request_duration_seconds"
SERVICE_LABEL = "service_name"
VERSION_LABEL = "service_version"
STATUS_LABEL = "http_response_status_code"
RATE_WINDOW = "1m"


def selector(service: str, version: str) -> str:
    """Label matchers of one version of a service (names are simulator-made, no escaping)."""
    return f'{SERVICE_LABEL}="{service}", {VERSION_LABEL}="{version}"'


def latency_quantile(q: float, sel: str, rate_window: str = RATE_WINDOW) -> str:
    """The ``q``-quantile of request duration (seconds) over the last ``rate_window`` (a minute)."""
    return f"histogram_quantile({q:g}, sum by (le) (rate({HISTOGRAM}_bucket{{{sel}}}[{rate_window}])))"


def error_ratio(sel: str) -> str:
    """Share of requests answered with a 5xx status over the last minute (0..1)."""
    return (
        f'sum(rate({HISTOGRAM}_count{{{sel}, {STATUS_LABEL}=~"5.."}}[{RATE_WINDOW}])) '
        f"/ sum(rate({HISTOGRAM}_count{{{sel}}}[{RATE_WINDOW}]))"
    )


def success_rate_percent(sel: str, rate_window: str = RATE_WINDOW) -> str:
    """Flagger's ``request-success-rate``: non-5xx requests per 100 over the last ``rate_window``."""
    return (
        f'sum(rate({HISTOGRAM}_count{{{sel}, {STATUS_LABEL}!~"5.."}}[{rate_window}])) '
        f"/ sum(rate({HISTOGRAM}_count{{{sel}}}[{rate_window}])) * 100"
    )


def increase_requests(sel: str, range_: str) -> str:
    """Requests of one version over the range ending at the query's time."""
    return f"sum(increase({HISTOGRAM}_count{{{sel}}}[{range_}]))"


def increase_errors(sel: str, range_: str) -> str:
    """5xx responses of one version over the range ending at the query's time."""
    return f'sum(increase({HISTOGRAM}_count{{{sel}, {STATUS_LABEL}=~"5.."}}[{range_}]))'


def increase_buckets(sel: str, range_: str) -> str:
    """Cumulative bucket counts of one version over the range, by ``le``."""
    return f"sum by (le) (increase({HISTOGRAM}_bucket{{{sel}}}[{range_}]))"
