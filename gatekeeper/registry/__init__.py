"""The quarantine registry, flaky-tests.yml: read, check, change by ownership rules, write.

Reading (``load``, ``parse``) uses PyYAML's C parser only; writing (``dump``, ``save``) loads
ruamel.yaml and jsonschema when it is called, so ``quarantine list`` and the gate start fast.
The format is in docs/registry.md; the schema in ``gatekeeper.registry.schema``.
"""

from __future__ import annotations

import os
from pathlib import Path

from gatekeeper.errors import RegistryError
from gatekeeper.files import read_regular
from gatekeeper.model import Registry
from gatekeeper.registry.edit import (
    add_manual,
    apply_machine_update,
    changes,
    expired,
    merge,
    remove,
)
from gatekeeper.registry.lock import DEFAULT_TIMEOUT as LOCK_TIMEOUT
from gatekeeper.registry.lock import locked
from gatekeeper.registry.reader import MAX_BYTES, parse

DEFAULT_NAME = "flaky-tests.yml"

__all__ = [
    "DEFAULT_NAME",
    "LOCK_TIMEOUT",
    "add_manual",
    "apply_machine_update",
    "changes",
    "dump",
    "expired",
    "load",
    "locked",
    "merge",
    "parse",
    "remove",
    "save",
]


def load(path: str | os.PathLike[str], *, missing_ok: bool = False) -> Registry:
    """The registry in ``path``. A missing file is an empty registry only with ``missing_ok``
    (the caller's default path); a path the user named must exist."""
    source = str(path)
    target = Path(path)
    try:
        size = target.stat().st_size
        if size > MAX_BYTES:
            raise RegistryError(
                source,
                f"{size:,} bytes is too large for a registry (the limit is {MAX_BYTES:,})",
                hint="is this the right file?",
            )
        data = read_regular(target)  # a FIFO is refused, not waited on
    except FileNotFoundError as err:
        if missing_ok:
            return Registry()
        raise RegistryError(
            source,
            "no such file",
            hint="create it with the line `flaky_tests: []`, or pass --registry PATH",
        ) from err
    except OSError as err:
        raise RegistryError(source, f"cannot read it: {err.strerror}") from err
    return parse(data, source)


def dump(
    registry: Registry, original: str | bytes | None = None, *, source: str = DEFAULT_NAME
) -> str:
    """The file text of ``registry``: a new canonical file, or ``original`` edited in place
    (comments, key order, quotes and unknown keys kept; unchanged entries byte for byte)."""
    from gatekeeper.registry import writer  # ruamel.yaml is for writing only

    return writer.dump(registry, original, source=source)


def save(path: str | os.PathLike[str], registry: Registry) -> bool:
    """Write ``registry`` to ``path`` atomically, editing the file that is there.

    Returns False when the file already holds exactly this (it is then not touched).
    """
    from gatekeeper.registry import writer

    return writer.save(path, registry)
