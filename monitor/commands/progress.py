"""Progress of a long command on stderr: a bar with done/total and the time left.

On a terminal the bar is redrawn in place (at most every :data:`REDRAW_S`); into a file or a CI
log it prints one line per tenth of the work, so a log of a 30-day backtest holds about ten lines,
not thousands. stdout is never written: it carries the command's output.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24
REDRAW_S = 0.1
STEPS = 10  # lines written when not on a terminal


def eta_text(seconds: float | None) -> str:
    """``ETA 1 min 05 s``, ``ETA 42 s``, or ``ETA ?`` before the first step has been timed."""
    if seconds is None or not math.isfinite(seconds):
        return "ETA ?"
    whole = max(round(seconds), 0)
    if whole >= 3600:
        return f"ETA {whole // 3600} h {whole % 3600 // 60:02d} min"
    if whole >= 60:
        return f"ETA {whole // 60} min {whole % 60:02d} s"
    return f"ETA {whole} s"


class ProgressBar:
    """A ``progress(done, total, what)`` callback drawing on ``stream``.

    ``tty`` None asks the stream (``isatty``); ``clock`` is monotonic seconds (a test passes its own).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        label: str = "progress",
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._label = label
        self._tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._started = clock()
        self._drawn_at = -math.inf
        self._step = -1  # the last tenth written to a log
        self._open_line = False  # a bar is on the terminal's line, with no newline after it yet

    def line(self, done: int, total: int, what: str) -> str:
        """The text of one update: bar, counts, percent, ETA and what is being done."""
        share = min(done / total, 1.0) if total > 0 else 0.0
        filled = round(share * BAR_WIDTH)
        elapsed_s = self._clock() - self._started
        eta_s = elapsed_s / done * (total - done) if done > 0 else None
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        text = f"{self._label} [{bar}] {done}/{total} {share * 100:3.0f}% {eta_text(eta_s)}"
        return f"{text}: {what}" if what else text

    def __call__(self, done: int, total: int, what: str) -> None:
        finished = total > 0 and done >= total
        if self._tty:
            now = self._clock()
            if not finished and now - self._drawn_at < REDRAW_S:
                return
            self._drawn_at = now
            self._stream.write("\r" + self.line(done, total, what) + "\x1b[K")
            self._open_line = not finished
            if finished:
                self._stream.write("\n")
        else:
            step = math.floor(done / total * STEPS) if total > 0 else 0
            if step <= self._step:
                return
            self._step = step
            self._stream.write(self.line(done, total, what) + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End an unfinished bar's line, so what follows on stderr starts on a line of its own."""
        if self._open_line:
            self._stream.write("\n")
            self._stream.flush()
            self._open_line = False
