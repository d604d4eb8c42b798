"""Reading a file the user named that must be a regular file (stdlib only): a FIFO, a device,
a socket or a folder is refused at once instead of blocking the command forever."""

from __future__ import annotations

import errno
import os
import stat

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``; OSError when it cannot be read, also (EINVAL, "is a named pipe
    (FIFO), not a regular file") when it is not a regular file. Opened without blocking, so a
    FIFO nobody writes to is refused, not waited on."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((what for test, what in _KINDS if test(mode)), "a special file")
            raise OSError(errno.EINVAL, f"is {kind}, not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read()
    finally:
        os.close(fd)
