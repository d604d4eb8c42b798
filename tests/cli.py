"""How the tests run `gatekeeper`: in this process (the default: fast), or as a real process
(the few end-to-end tests, marked ``e2e``).

In process, :func:`gatekeeper` calls ``gatekeeper.cli.main`` -- the console script's entry
point, with its error handler and exit codes -- as a fresh process would see it: ``sys.argv``
set, exactly the given environment in ``os.environ`` (not merely overrides), the working
directory changed, stdout and stderr captured apart on pipes that are not terminals, an empty
stdin, and Python's default warning filters (a warning a library prints shows on stderr, as it
would in a real process). The answer is a ``CompletedProcess`` either way, so a test reads
``returncode``, ``stdout`` and ``stderr`` whichever way it ran.

What a process gives that this cannot (a kill, parallel writers, a hang caught by a timeout,
the installed entry point itself) stays with :func:`gatekeeper_process`.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import click.formatting
from click.testing import CliRunner

_CI_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "BUILDKITE", "CIRCLE", "JENKINS", "GIT_", "BUILD_")
_one_at_a_time = threading.Lock()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any CI's variables (so tests behave the same inside CI), nor
    pytest-xdist's (a pytest run inside a test is not an xdist worker: pytest-benchmark would
    switch itself off)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CI_PREFIXES) and k != "CI" and not k.startswith("PYTEST_XDIST_")
    }
    env.pop("GATEKEEPER_DB", None)
    env.pop("SOURCE_DATE_EPOCH", None)
    env.update(extra)
    return env


def gatekeeper_process(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m gatekeeper.cli ARGS`` as a real process: for the end-to-end tests."""
    return subprocess.run(
        [sys.executable, "-m", "gatekeeper.cli", *args],
        cwd=cwd,
        env=dict(env or clean_env()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def gatekeeper(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``gatekeeper ARGS`` in this process, as a real process would run it (see the module's
    docstring). One call at a time, from the main thread: threads share the environment, the
    working directory and the standard streams, so parallel callers use real processes."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the in-process CLI runs on the main thread: use gatekeeper_process")
    with _one_at_a_time, _process_like(["gatekeeper", *args], cwd, env or clean_env()) as streams:
        code = _run_main()
        sys.stdout.flush()
        sys.stderr.flush()
    out, err = streams
    return subprocess.CompletedProcess(
        ["gatekeeper", *args],
        code,
        out.getvalue().decode("utf-8", "replace"),
        err.getvalue().decode("utf-8", "replace"),
    )


def _run_main() -> int:
    from gatekeeper import cli

    try:
        cli.main()
    except SystemExit as done:
        if done.code is None:
            return 0
        if isinstance(done.code, int):
            return done.code
        print(done.code, file=sys.stderr)  # what the interpreter does with sys.exit("text")
        return 1
    except Exception:  # what the interpreter prints for an uncaught exception (GATEKEEPER_DEBUG)
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _process_like(
    argv: list[str], cwd: Path, env: Mapping[str, str]
) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    saved_env = dict(os.environ)
    saved_argv = sys.argv
    saved_main = sys.modules["__main__"]
    saved_cwd = os.getcwd()
    # click names the program from __main__ and argv[0]: "gatekeeper", as the console script
    sys.modules["__main__"] = types.ModuleType("__main__")
    sys.argv = argv
    os.environ.clear()
    os.environ.update(env)
    try:
        os.chdir(cwd)
        with warnings.catch_warnings(), CliRunner().isolation() as (out, err, _mixed):
            # the width of a pipe: $COLUMNS, else 80 (the runner would force 80 regardless)
            click.formatting.FORCED_WIDTH = None
            _default_warning_filters()
            yield out, err
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        sys.modules["__main__"] = saved_main


def _default_warning_filters() -> None:
    """The filters a fresh interpreter starts with (no -W, no PYTHONWARNINGS)."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
