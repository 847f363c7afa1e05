"""Per-template log counts of two versions, the input of the log judge.

Both versions' lines are mined into one template set (so a template means the same thing on
both sides: :mod:`monitor.otlp.aggregate`) and counted per template, with the most severe level
each template was logged at and one redacted example line. The exposure is what the counts are
per: requests when the server spans know them, else all log lines of that version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


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
    # Every line each version logged, whatever the exposure's unit: the log judges' data minimum
    # applies to both, so a baseline that logged too little leaves the check without data.
    canary_lines: int = 0
    baseline_lines: int = 0
