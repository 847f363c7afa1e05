"""The real OpenTelemetry SDK, with its OTLP/HTTP exporters pointed at the daemon's receiver."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

import pytest

from bench.traces.system import Instrumented, instrumented

Instrument = Callable[[str, str, str], AbstractContextManager[Instrumented]]


@pytest.fixture
def instrument() -> Instrument:
    """``with instrument(receiver_url, service, version) as toy:`` - use ``toy.tracer``, ``toy.logger``.

    Each toy version has its own tracer and logger providers and exporters, as a deployed service
    has; its resource says ``deployment.environment.name: testing``.
    """
    return partial(instrumented, logs=True, environment="testing")
