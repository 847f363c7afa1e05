"""Hypothesis settings of the fuzz tier: ``ci`` (bounded, deterministic) and ``long`` (a campaign).

``make test`` runs ``ci``: a fixed number of examples from a fixed seed, so CI is deterministic
and the tier costs seconds. ``HYPOTHESIS_PROFILE=long`` (or ``--hypothesis-profile=long``) runs
each target for 20,000 random examples (``make fuzz``). In both, the deadline is the "never
hangs" property: one parse taking seconds is a failure, not slowness.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

# A parse is milliseconds; seconds means it hangs. Generous enough for a loaded CI machine.
DEADLINE = timedelta(seconds=2)
# The HTTP targets share one app (and its store) across examples on purpose; OTLP requests are
# built field by field, which is slower than hypothesis expects of a strategy.
_SHARED_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

T = TypeVar("T", bound=Callable[..., Any])
PROFILES = ("ci", "long")
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=DEADLINE,
    database=None,
    print_blob=True,
    suppress_health_check=_SHARED_FIXTURES,
)
settings.register_profile(
    "long",
    max_examples=20_000,
    derandomize=False,
    deadline=DEADLINE,
    database=None,
    print_blob=True,
    suppress_health_check=_SHARED_FIXTURES,
)


def _selected() -> str:
    """``HYPOTHESIS_PROFILE``, else the profile ``--hypothesis-profile`` loaded if it is ours, else ci."""
    if name := os.environ.get("HYPOTHESIS_PROFILE"):
        return name
    current = settings.get_current_profile_name()
    return current if current in PROFILES else "ci"


def fuzz_profile(test: T) -> T:
    """Run ``test`` under the selected profile.

    Chosen as the test module is collected, after ``--hypothesis-profile`` is applied; and per
    test, because loading a profile globally would change the suite's other hypothesis tests.
    """
    decorated: T = settings.get_profile(_selected())(test)
    return decorated
