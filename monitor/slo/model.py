"""One service level objective: what counts as an error, how many may fail, over which window."""

from __future__ import annotations

from dataclasses import dataclass

# Sloth's placeholder: each recorded window substitutes its range ("5m", "1h", ...) into the queries.
WINDOW_PLACEHOLDER = "{{.window}}"
# The SLO windows the generator supports: the burn factors assume a window of whole days, and Sloth
# and Pyrra both settle on four weeks or thirty days.
WINDOWS_DAYS = (28, 30)


@dataclass(frozen=True)
class SliCheck:
    """An SLI given as a profile's counts check (``sli: {check: http_error_ratio}``).

    ``events`` (bad events) and ``exposure`` (all events) are the check's templates with the
    profile's ``$<key>_label`` placeholders filled in and ``$selector`` and ``$window`` left for
    whoever renders them: the rule generator's PromQL (the :class:`SLO`'s ``errors`` and ``total``)
    or a verdict's ``slo_burn`` check, which counts each version's events as the check itself does.
    ``service_label`` and ``version_label`` are the profile's names of the two labels: a verdict's
    version matchers are written in them, whichever profile the analysis itself uses.
    """

    profile: str  # the profile's name or path
    check: str
    events: str
    exposure: str
    service_label: str = "service_name"
    version_label: str = "service_version"


@dataclass(frozen=True)
class SLO:
    """An SLO whose SLI is a ratio of events, as PromQL over a range of ``{{.window}}``.

    Exactly one of ``errors`` (bad events) and ``good`` is set; ``total`` counts every event. Each
    query is an instant expression, e.g. ``sum(rate(x_total{code=~"5.."}[{{.window}}]))``. An SLI
    given as a profile's check (``from_check``) has its templates rendered into ``errors`` and
    ``total`` for the service (``increase`` rather than ``rate``: their ratio is the same).
    """

    name: str  # unique; a label value and a file name: lower case, digits and dashes
    service: str
    objective: float  # e.g. 0.999: the share of events that must be good
    window_days: int  # 28 or 30
    total: str
    errors: str | None = None
    good: str | None = None
    description: str = ""
    from_check: SliCheck | None = None

    def __post_init__(self) -> None:
        # The config validates these with file:line; this guards callers that build an SLO directly.
        if (self.errors is None) == (self.good is None):
            raise ValueError(f"SLO {self.name!r}: give exactly one of errors and good")
        if not 0 < self.objective < 1:
            raise ValueError(f"SLO {self.name!r}: objective {self.objective} is not between 0 and 1")
        if self.window_days not in WINDOWS_DAYS:
            raise ValueError(f"SLO {self.name!r}: window {self.window_days}d is not one of 28d, 30d")
        for query in (self.total, self.errors, self.good):
            if query is not None and WINDOW_PLACEHOLDER not in query:
                raise ValueError(f"SLO {self.name!r}: query {query!r} has no {WINDOW_PLACEHOLDER}")

    @property
    def error_budget(self) -> float:
        """The share of events allowed to fail, e.g. 0.001 for 0.999 (rounded off float noise)."""
        return round(1 - self.objective, 12)

    def error_ratio(self, window: str) -> str:
        """PromQL of the share of bad events over ``window`` (e.g. ``"5m"``)."""
        total = self.total.replace(WINDOW_PLACEHOLDER, window)
        if self.errors is not None:
            return f"({self.errors.replace(WINDOW_PLACEHOLDER, window)})\n/\n({total})"
        assert self.good is not None  # __post_init__: exactly one is set
        return f"1 - (\n  ({self.good.replace(WINDOW_PLACEHOLDER, window)})\n  /\n  ({total})\n)"
