"""``gc_paused()``: the cyclic garbage collector off while many records are built (a leaf)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # pauses in progress, in any thread
_we_disabled = False  # whether the outermost pause turned the collector off


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many records that make no cycles.

    Every record is a tracked object, so building 100,000 of them (a big report's results, a
    history's executions) triggers hundreds of collections that rescan everything built so far
    -- a fifth of a big parse, a third of reading a big history -- and find nothing, since the
    records hold no reference cycles.

    The collector is one per process, and the service reads and parses in several threads at
    once: pauses are counted, the first one turns the collector off (if it was on) and the last
    one to end turns it back on. A caller that disabled the collector itself keeps it disabled.
    """
    global _depth, _we_disabled
    with _lock:
        if _depth == 0:
            _we_disabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _we_disabled:
                _we_disabled = False
                gc.enable()
