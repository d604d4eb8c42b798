"""``gc_paused()``: the cyclic garbage collector off while many records are built (a leaf)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many records that make no cycles.

    Every record is a tracked object, so building 100,000 of them (a big report's results, a
    history's executions) triggers hundreds of collections that rescan everything built so far
    -- a fifth of a big parse, a third of reading a big history -- and find nothing, since the
    records hold no reference cycles. The previous state is restored, so a caller that disabled
    the collector keeps it disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
