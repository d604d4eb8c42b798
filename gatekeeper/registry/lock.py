"""The registry's lock: one read-change-write of flaky-tests.yml at a time, across processes.

The lock is an OS lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a lock file beside
the registry, ``.flaky-tests.yml.lock``. The OS releases it when its holder exits, even after a
kill -9, so a lock file left behind never blocks anyone; it is never deleted (deleting it would
let two processes lock two different files).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gatekeeper.errors import RegistryError

DEFAULT_TIMEOUT = 30.0  # seconds an edit waits for another one to finish


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file of the registry ``path`` (beside the real file: a symlinked registry and
    its target share one lock)."""
    target = Path(os.path.realpath(path))
    return target.parent / f".{target.name}.lock"


@contextmanager
def locked(path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the registry's lock inside the block; wait at most ``timeout`` seconds for it.

    Raises RegistryError when the lock file cannot be made or another edit holds the lock
    past the timeout; the block then never runs, so nothing is written."""
    source = str(path)
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RegistryError(
            source,
            f"cannot lock it: cannot open the lock file {lock.name}: {err.strerror}",
            hint="the registry's directory must be writable; nothing was written",
        ) from err
    try:
        deadline = time.monotonic() + timeout
        pause = 0.005
        while not _try_lock(fd):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RegistryError(
                    source,
                    f"another gatekeeper is editing it (it held {lock.name} for {timeout:g} s); "
                    "nothing was written",
                    hint="try again when that edit is done; GATEKEEPER_LOCK_TIMEOUT sets the wait",
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _try_lock(fd: int) -> bool:
    """Take the lock on ``fd`` if it is free; False when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
