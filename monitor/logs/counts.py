"""Per-template log counts of two versions, the input of the log judge.

Both versions' lines are mined into one template set (so a template means the same thing on
both sides) and counted per template, with the most severe level each template was logged at
and one redacted example line. The exposure is what the counts are per: requests when the
metrics know them, else all log lines of that version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from monitor.logs.mining import TemplateMiner
from monitor.logs.redact import redact


class Level(IntEnum):
    """Log severity, ordered; OTLP severity numbers 1-24 map onto it in steps of four."""

    TRACE = 1
    DEBUG = 5
    INFO = 9
    WARN = 13
    ERROR = 17
    FATAL = 21

    @classmethod
    def parse(cls, value: str | int | None) -> Level:
        """A level from a name (``warning``, ``ERR``, ``crit``…) or an OTLP severity number 1-24.

        Unknown or missing levels read as INFO: an unlabelled line is ordinary until it is not.
        """
        if isinstance(value, int):
            return _BY_NUMBER[value] if 0 < value < len(_BY_NUMBER) else cls.INFO
        return _LEVEL_NAMES.get((value or "").strip().upper(), cls.INFO)


_LEVEL_NAMES = {
    **{name: Level.TRACE for name in ("TRACE", "TRC", "FINEST", "FINER")},
    **{name: Level.DEBUG for name in ("DEBUG", "DBG", "FINE", "D")},
    **{name: Level.INFO for name in ("INFO", "INF", "INFORMATION", "NOTICE", "I")},
    **{name: Level.WARN for name in ("WARN", "WARNING", "WRN", "W")},
    **{name: Level.ERROR for name in ("ERROR", "ERR", "SEVERE", "E")},
    **{name: Level.FATAL for name in ("FATAL", "CRITICAL", "CRIT", "PANIC", "EMERG", "ALERT", "F")},
}


_BY_NUMBER = (Level.INFO, *(max(lv for lv in Level if lv <= n) for n in range(1, 25)))


@dataclass(frozen=True)
class TemplateCounts:
    """How often each version logged one template."""

    template: str
    level: Level
    canary: int
    baseline: int
    example: str = ""


@dataclass(frozen=True)
class LogData:
    """Every template of a comparison, and the exposures the counts are per."""

    templates: tuple[TemplateCounts, ...]
    canary_exposure: float
    baseline_exposure: float
    exposure_unit: str = "lines"
    canary_lines: int = 0
    baseline_lines: int = 0


EXAMPLE_CHARS = 500


@dataclass
class _Tally:
    level: Level = Level.TRACE
    counts: list[int] = field(default_factory=lambda: [0, 0])
    example: str = ""


def count_templates(
    canary: Iterable[tuple[str, Level]],
    baseline: Iterable[tuple[str, Level]],
    *,
    canary_exposure: float | None = None,
    baseline_exposure: float | None = None,
    exposure_unit: str = "requests",
    miner: TemplateMiner | None = None,
) -> LogData:
    """Mine ``(message, level)`` lines of both versions into one template set and count them.

    Without exposures, each version's line count is its exposure (unit ``lines``).
    """
    miner = miner or TemplateMiner()
    tallies: dict[int, _Tally] = {}
    lines = [0, 0]
    for side, stream in ((1, baseline), (0, canary)):  # examples prefer the canary's lines
        for message, level in stream:
            tally = tallies.setdefault(miner.add(message), _Tally())
            tally.counts[side] += 1
            tally.level = max(tally.level, level)
            if not tally.example or (side == 0 and tally.counts[0] == 1):
                tally.example = redact(message)[:EXAMPLE_CHARS]
            lines[side] += 1
    templates = tuple(
        TemplateCounts(miner.template(tid).text, t.level, t.counts[0], t.counts[1], t.example)
        for tid, t in tallies.items()
    )
    if canary_exposure is None or baseline_exposure is None:
        return LogData(templates, lines[0], lines[1], "lines", lines[0], lines[1])
    return LogData(templates, canary_exposure, baseline_exposure, exposure_unit, lines[0], lines[1])
