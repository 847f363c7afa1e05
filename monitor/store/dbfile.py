"""The SQLite file under a store: is it still the file the store opened, and can it be written?

A SQLite connection keeps its file open. Delete the file (or move another one into its place)
and the daemon goes on reading and writing the old one, now unreachable by its name: every
write is acknowledged and then lost at the next restart. The store remembers which file it
opened, by device and inode, and compares before it writes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from sqlalchemy.engine import URL


@dataclass(frozen=True)
class DatabaseFile:
    """A SQLite database file as the store opened it: its absolute path and identity."""

    path: str
    device: int
    inode: int

    @classmethod
    def of(cls, url: URL) -> DatabaseFile | None:
        """The file of a SQLite ``url`` as it is now; None for another database, memory or no file."""
        path = url.database
        if url.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
            return None
        # Absolute: the daemon's working directory must not change which file is compared.
        path = os.path.abspath(path)
        try:
            found = os.stat(path)
        except OSError:
            return None
        return cls(path, found.st_dev, found.st_ino)

    def lost(self) -> str | None:
        """Why a write to the open file would be lost (it was deleted or replaced), or None."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            how = "deleted"
        except OSError:
            return None  # cannot tell; the write itself will say if it fails
        else:
            if (found.st_dev, found.st_ino) == (self.device, self.inode):
                return None
            how = "replaced by another file"
        return (
            f"database file {self.path} was {how} while the monitor was running, so a write now would "
            "be lost at the next restart and none is taken; put the right file back (from a backup if "
            "need be) and restart the monitor"
        )

    def unwritable(self) -> str | None:
        """Why the file cannot be written (deleted, replaced, read-only), or None."""
        if (lost := self.lost()) is not None:
            return lost
        try:
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            return f"database file {self.path} cannot be examined ({exc.strerror}); check its directory"
        # access() answers for this process (a read-only mount, an immutable file); a file nobody
        # may write was made read-only on purpose, even if a daemon running as root could write it.
        if not os.access(self.path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return (
                f"database file {self.path} is read-only (mode {stat.S_IMODE(mode):04o}); make it "
                "writable by the monitor (chmod u+w, or a writable volume)"
            )
        return None
