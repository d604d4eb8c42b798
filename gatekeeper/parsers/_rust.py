"""Shared by the Rust test-output parsers: log lines, cargo's binary names, panic messages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gatekeeper.model import BenchmarkResult, Direction, SpreadKind, rust_binary_name

MESSAGE_CAP = 4000

# Colours: CI logs often keep them (CARGO_TERM_COLOR=always, nextest --color always).
# CSI (`ESC[31m`), OSC (`ESC]...BEL`), charset selection (`ESC(B`, from terminfo's sgr0).
_ANSI = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+][0-9A-Za-z]|[@-Z\\-_])"
)
# A log downloaded from GitHub Actions starts every line with an ISO timestamp.
_GHA_STAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ")


def decode_lines(data: bytes) -> list[str]:
    """The log as lines: BOM, CR, ANSI colours and GitHub Actions timestamps removed.

    Only ``\\n`` splits lines (``str.splitlines`` would also split on form feeds and other
    separators a test may print), so line numbers match what an editor shows.
    """
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    first = next((ln for ln in lines if ln.strip()), "")
    stamped = bool(_GHA_STAMP.match(first))
    out = []
    for ln in lines:
        if ln.endswith("\r"):
            ln = ln[:-1]
        if "\x1b" in ln:
            ln = _ANSI.sub("", ln)
        if stamped:
            ln = _GHA_STAMP.sub("", ln, count=1)
        out.append(ln)
    return out


def head_text(head: bytes) -> str:
    """The sniffer's view of a file's first bytes: decoded leniently, colours removed."""
    text = head.decode("utf-8", errors="ignore").lstrip("\ufeff")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text


# ---------------------------------------------------------------------------------------------
# Which test binary a block of output belongs to (cargo prints this on stderr)
# ---------------------------------------------------------------------------------------------

# `Running unittests src/lib.rs (target/debug/deps/user_service-1a2b...)` (current cargo),
# `Running unittests (target/release/deps/log4rs_bench-f36c...)` (cargo of 2021),
# `Running target/debug/deps/adder-c8315fb1790f5086` (older cargo, e.g. 2019).
# The binary is always a path (cargo prints it relative to the working folder, or absolute):
# without a slash it is a test's own output, such as `Running migrations (schema v2)`.
_RUNNING = re.compile(
    r"^\s*Running (?:(?P<src>.*?) )?\((?P<bin>[^()]*[/\\][^()]*)\)\s*$"
    r"|^\s*Running (?P<old>\S*[/\\]\S*)\s*$"
)
_DOCTESTS = re.compile(r"^\s*Doc-tests (?P<crate>\S+)\s*$")
_DEPS_HASH = re.compile(r"-[^-/\\]+$")


def binary_suite(path: str) -> str:
    """The suite of a binary cargo ran: ``.../deps/user_service-1a2b3c...`` -> ``user_service``.

    Files in ``deps/`` are always ``<crate>-<metadata hash>``; the hash is 16 hex digits in real
    output (which ``rust_binary_name`` strips), but is dropped here whatever it looks like so an
    edited log (``name-hash``) still names the binary.
    """
    path = path.strip().replace("\\", "/")
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".exe"):
        base = base[:-4]
    parent = path.rsplit("/", 2)[-2] if path.count("/") >= 1 else ""
    if parent == "deps" and "-" in base:
        base = _DEPS_HASH.sub("", base)
    return rust_binary_name(base)


def suite_of_cargo_line(line: str) -> str | None:
    """The suite named by a cargo ``Running ...`` or ``Doc-tests NAME`` line, else None."""
    if "Running" in line:
        m = _RUNNING.match(line)
        if m:
            return binary_suite(m.group("bin") or m.group("old"))
    elif "Doc-tests" in line:
        m = _DOCTESTS.match(line)
        if m:
            return rust_binary_name(m.group("crate"))
    return None


# rustc's errors (`error[E0596]: ...`, `error: expected one of ...`) and cargo's verdict on them.
# cargo's own `error: test failed, to rerun pass ...` (and bench/doctest) are not build errors.
ERROR_LINE = re.compile(
    r"^error(?:\[E\d{4}\])?: (?!(?:test|bench|doctest) failed|\d+ targets? failed)"
)
BUILD_FAILED = re.compile(r"^error\[E\d{4}\]: |^error: could not compile ")
COULD_NOT_COMPILE = re.compile(r"^error: could not compile `(?P<crate>[^`]+)`")
# `process didn't exit successfully: `...` (signal: 11, SIGSEGV: invalid memory reference)`
PROCESS_DIED = re.compile(r"process didn't exit successfully: .*\((?P<why>[^()]*)\)\s*$")


# ---------------------------------------------------------------------------------------------
# Failure messages: the panic text, whichever rustc wrote it
# ---------------------------------------------------------------------------------------------

# rustc >= 1.73: `thread 'name' panicked at src/lib.rs:19:9:` then the message on the next lines;
# rustc of late 2025 adds the thread id: `thread 'name' (6019162) panicked at ...`.
_PANIC_NEW = re.compile(
    r"^thread '(?P<thread>[^']*)'(?: \([^)]*\))? panicked at (?P<file>.+?):(?P<line>\d+):\d+:$"
)
# rustc < 1.73: `thread 'name' panicked at 'message', src/lib.rs:10:9`; the message can span
# several lines (assert_eq's left/right block), and very old rustc gave no column.
_PANIC_OLD = re.compile(r"^thread '(?P<thread>[^']*)'(?: \([^)]*\))? panicked at '(?P<rest>.*)$")
_PANIC_OLD_END = re.compile(r"^(?P<msg>.*)', (?P<file>\S.*?):(?P<line>\d+)(?::\d+)?$")
_BACKTRACE_NOTE = re.compile(r"^note: (?:[Rr]un with `RUST_BACKTRACE|Some details are omitted)")


@dataclass(frozen=True, slots=True)
class Panic:
    thread: str
    message: str
    file: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failed test's captured output says went wrong."""

    message: str | None
    kind: str
    file: str | None = None
    line: int | None = None


def cap(text: str) -> str:
    text = text.strip("\n")
    if len(text) <= MESSAGE_CAP:
        return text
    suffix = "\n... (truncated)"
    return text[: MESSAGE_CAP - len(suffix)].rstrip() + suffix


def _is_panic_end(line: str) -> bool:
    return (
        line.startswith("note: ")
        or line.startswith("stack backtrace:")
        or line.startswith("thread '")
    )


def find_panics(lines: list[str]) -> tuple[list[Panic], list[str]]:
    """The panics in a test's output, and libtest's own ``note:`` lines (with continuations)."""
    panics: list[Panic] = []
    notes: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("thread '"):
            m = _PANIC_NEW.match(line)
            if m:
                j = i + 1
                while j < n and not _is_panic_end(lines[j]):
                    j += 1
                msg = "\n".join(lines[i + 1 : j]).strip("\n")
                panics.append(Panic(m["thread"], msg, m["file"], int(m["line"])))
                i = j
                continue
            m = _PANIC_OLD.match(line)
            if m:
                parts = [m["rest"]]
                j = i
                end = _PANIC_OLD_END.match(parts[-1])
                while end is None and j + 1 < n and j - i < 200:
                    j += 1
                    parts.append(lines[j])
                    end = _PANIC_OLD_END.match(lines[j])
                if end is not None:
                    parts[-1] = end["msg"]
                    panics.append(
                        Panic(m["thread"], "\n".join(parts), end["file"], int(end["line"]))
                    )
                    i = j + 1
                    continue
        if line.startswith("note: ") and not _BACKTRACE_NOTE.match(line):
            block = [line]
            j = i + 1
            # libtest's should_panic note continues on indented lines
            # (`      panic message: ...` / ` expected substring: ...`).
            while j < n and lines[j].startswith(" ") and lines[j].strip():
                block.append(lines[j])
                j += 1
            notes.append("\n".join(block))
            i = j
            continue
        i += 1
    return panics, notes


def _without_backtraces(lines: list[str]) -> list[str]:
    out: list[str] = []
    in_trace = False
    for line in lines:
        if line.startswith("stack backtrace:"):
            in_trace = True
            continue
        if in_trace:
            if line.startswith(" ") and line.strip():
                continue
            in_trace = False
        if _BACKTRACE_NOTE.match(line):
            continue
        out.append(line)
    return out


def failure_from_output(lines: list[str]) -> Failure:
    """Message, kind and location for a failed test from its captured stdout/stderr lines.

    The message is the panic text (without the ``thread '...' panicked at`` header, whose thread
    id changes on every run) followed by libtest's notes; without a panic, the output itself.
    """
    panics, notes = find_panics(lines)
    if panics:
        first = panics[0]
        parts = [first.message or f"panicked at {first.file}:{first.line}"]
        for p in panics[1:]:
            if p.message and p.message not in parts:
                parts.append(f"thread '{p.thread}' panicked: {p.message}")
        parts.extend(notes)
        file, line = first.file, first.line
        if file and "rustdoctest" in file:
            # Merged doc-tests (edition 2024) panic in a bundle under a temporary directory
            # (`/tmp/rustdoctestXXXX/doctest_bundle_2024.rs`): not a file of the project.
            file, line = None, None
        return Failure(cap("\n".join(parts)), "panic", file, line)
    text = "\n".join(_without_backtraces(lines)).strip()
    if notes:
        joined = "\n".join(notes)
        if "did not panic as expected" in joined:
            kind = "did not panic"
        elif "unexpected return code" in joined:
            kind = "exit code"
        else:
            kind = "test failure"
        return Failure(cap(text or joined), kind)
    if not text:
        return Failure(None, "test failure")
    kind = "compile error" if "Couldn't compile the test." in text else "test failure"
    return Failure(cap(text), kind)


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


def seconds(raw: object) -> float | None:
    """A duration in seconds from a number or a string like ``0.072s``; None when unusable."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        s = raw.strip()
        if s.endswith("s"):
            s = s[:-1]
        try:
            value = float(s)
        except ValueError:
            return None
    else:
        return None
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None
    return value


# libtest prints ns/iter; hand-edited and bencher-format logs also carry other time units.
_TIME_UNITS = {"ns": 1.0, "us": 1e3, "\u00b5s": 1e3, "\u03bcs": 1e3, "ms": 1e6, "s": 1e9}


def bench_result(
    name: str, value: float, unit: str, spread: float | None, group: str
) -> BenchmarkResult:
    """One libtest ``bench:`` measurement: the median per iteration, +/- the range (max - min).

    Times become nanoseconds; other units stay as written, and per-second units (``MB/s``) are
    throughputs, where higher is better.
    """
    per = unit[:-5] if unit.endswith("/iter") else None
    if per is not None and per in _TIME_UNITS:
        factor = _TIME_UNITS[per]
        return BenchmarkResult(
            name=name,
            value=value * factor,
            unit="ns",
            statistic="median",
            spread=None if spread is None else spread * factor,
            spread_kind=None if spread is None else SpreadKind.RANGE,
            group=group,
        )
    direction = Direction.HIGHER_IS_BETTER if unit.endswith("/s") else Direction.LOWER_IS_BETTER
    return BenchmarkResult(
        name=name,
        value=value,
        unit=unit,
        statistic="median",
        direction=direction,
        spread=spread,
        spread_kind=None if spread is None else SpreadKind.RANGE,
        group=group,
    )


def unnamed_suite_warning(source: str, tests: int) -> str:
    """The warning for tests whose binary no cargo `Running` line named (their suite is "")."""
    return (
        f"{source}: no cargo `Running` line names the test binary of {plural(tests, 'test')} "
        "(`cargo test -q` hides those lines, stdout alone lacks them), so their ids lack the "
        "binary (`tests::it_works`, not `my_crate::tests::it_works`) and will not match "
        "nextest's; keep cargo's stderr in the log (2>&1)"
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
