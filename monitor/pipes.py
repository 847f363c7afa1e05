"""Standard output to a reader that may go away: ``monitor analyze ... | head -1``.

A closed stdout says nothing about the deployment, so the exit code must stay the verdict's (or the
gate's, or provision's). Python ignores SIGPIPE and raises :class:`BrokenPipeError` from the write
instead; uncaught, that is a traceback and exit 1, which a pipeline reads as ``fail``. As the
``signal`` module's documentation recommends, the closed descriptor is replaced by ``/dev/null``
so that later writes and the interpreter's final flush succeed quietly, and the command carries
on to its own exit code.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO, cast


class _ClosedPipeTolerant:
    """A text stream that turns a broken pipe into silence: output is dropped from then on."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._closed = False

    def write(self, text: str) -> int:
        if not self._closed:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self._closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self._closed = True
        # What is still buffered then goes to /dev/null, at our flush or the interpreter's.
        with suppress(OSError, ValueError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def stdout_may_close() -> Iterator[None]:
    """Run the body with ``sys.stdout`` tolerant of a reader that closed the pipe; flush at the end."""
    original = sys.stdout
    tolerant = _ClosedPipeTolerant(original)
    sys.stdout = cast(TextIO, tolerant)
    try:
        yield
    finally:  # also when argparse exits after --help: its text is flushed here, not at shutdown
        tolerant.flush()
        sys.stdout = original
