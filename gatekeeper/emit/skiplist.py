"""Skip lists: quarantined test ids -> the arguments each test runner takes (pure; no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gatekeeper.model import ID_SEPARATOR, QuarantineEntry

RUNNER_FORMATS = ("cargo", "nextest", "pytest", "gotest")
FORMATS = (*RUNNER_FORMATS, "text", "json")

# what survives `$(...)` word splitting unchanged: no whitespace, no quotes, no shell globs
# except the `[...]` of pytest parameters (an unmatched glob is kept as written by the shell)
_WORD_UNSAFE = re.compile(r"[\s'\"\\*?$`]")
_GO_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class SkipList:
    """What to print (one runner argument per line, or one expression) and what was left out."""

    lines: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def _split(test_id: str) -> tuple[str, str]:
    """``suite::name`` -> (suite, name); an id without a suite has an empty one."""
    suite, sep, name = test_id.partition(ID_SEPARATOR)
    return (suite, name) if sep else ("", test_id)


def _unique(items: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(items))


def _libtest_paths(ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """The libtest paths (the binary prefix stripped), and warnings for ids left out."""
    paths: list[str] = []
    warnings: list[str] = []
    for test_id in ids:
        path = _split(test_id)[1]
        if _WORD_UNSAFE.search(path):
            # doc-tests are named like `src/lib.rs - foo (line 5)`: `$(...)` would split them into
            # positional filters, and with --exact the run would select almost nothing
            warnings.append(
                f"{test_id}: left out (a doc-test or a name with spaces cannot pass through "
                "$(...) word splitting); mark it #[ignore] or skip it by hand"
            )
            continue
        paths.append(path)
    return _unique(paths), warnings


def cargo(ids: Iterable[str]) -> SkipList:
    """Arguments after ``cargo test --``: ``--skip PATH`` per test, then ``--exact``.

    libtest's ``--skip`` matches substrings unless ``--exact`` is given; with ``--exact`` and no
    positional filter every test runs except the exactly named ones. The binary prefix of the id
    is dropped because cargo passes the same arguments to every test binary, and libtest only
    knows the path inside its binary.
    """
    paths, warnings = _libtest_paths(ids)
    lines = [arg for path in paths for arg in ("--skip", path)]
    if lines:
        lines.append("--exact")
    return SkipList(tuple(lines), tuple(warnings))


_NEXTEST_PLAIN = re.compile(r"^[\w:]+$")


def nextest(ids: Iterable[str]) -> SkipList:
    """One filterset for ``cargo nextest run -E``: every test except the quarantined ones.

    Names with characters other than letters, digits, ``_`` and ``:`` (which Rust test paths
    never have) are left out with a warning rather than escaped: nextest's escaping rules for
    name matchers were not checked against a real nextest.
    """
    paths, warnings = _libtest_paths(ids)
    plain = [p for p in paths if _NEXTEST_PLAIN.match(p)]
    warnings += [f"{p}: left out of the nextest filterset (unusual characters)" for p in paths
                 if p not in plain]  # fmt: skip
    if not plain:
        return SkipList(("all()",), tuple(warnings))
    terms = " | ".join(f"test(={p})" for p in plain)
    return SkipList((f"not ({terms})",), tuple(warnings))


def pytest_node_id(test_id: str) -> str:
    """A JUnit-derived id (``tests.test_x.TestA::test_y[p]``) -> a pytest node id.

    pytest's junitxml writes ``classname`` as the node id's file path with ``/`` turned into
    ``.`` and ``.py`` dropped, followed by the classes. The module ends before the first segment
    that starts with an uppercase letter (pytest collects classes named ``Test*``). An id that
    already holds a node id (``tests/test_x.py::test_y``) is kept as it is.
    """
    if ".py" + ID_SEPARATOR in test_id:
        return test_id
    classname, name = _split(test_id)
    if not classname:
        return name
    parts = classname.split(".")
    cut = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
    module, classes = parts[:cut], parts[cut:]
    if not module:
        return ID_SEPARATOR.join([*classes, name])
    return ID_SEPARATOR.join(["/".join(module) + ".py", *classes, name])


def pytest(ids: Iterable[str]) -> SkipList:
    """``--deselect=NODEID`` per test (pytest deselects exact node ids, nothing else)."""
    lines: list[str] = []
    warnings: list[str] = []
    for test_id in ids:
        node = pytest_node_id(test_id)
        if _WORD_UNSAFE.search(node):
            warnings.append(
                f"{test_id}: left out (its node id {node!r} cannot pass through $(...) word "
                "splitting); deselect it by hand"
            )
            continue
        lines.append(f"--deselect={node}")
    return SkipList(tuple(_unique(lines)), tuple(warnings))


def _go_alternative(name: str) -> str:
    # go test splits -skip at top-level `|` into alternatives and each alternative at `/` into
    # one anchored pattern per subtest level (testing/match.go)
    return "/".join("^" + _GO_META.sub(r"\\\1", level) + "$" for level in name.split("/"))


def gotest(ids: Iterable[str]) -> SkipList:
    """The regexp for ``go test -skip``: ``^TestA$|^TestB$/^case$``; nothing when empty."""
    names = _unique(_split(test_id)[1] for test_id in ids)
    if not names:
        return SkipList(())
    return SkipList(("|".join(_go_alternative(n) for n in names),))


def text(entries: Sequence[QuarantineEntry]) -> SkipList:
    return SkipList(tuple(e.name for e in entries))


def json_list(entries: Sequence[QuarantineEntry]) -> list[dict[str, str | None]]:
    return [
        {
            "name": e.name,
            "service": e.service,
            "reason": e.reason,
            "issue": e.issue,
            "owner": e.owner,
            "expires": e.expires.isoformat() if e.expires else None,
        }
        for e in entries
    ]


def runner(fmt: str, entries: Sequence[QuarantineEntry]) -> SkipList:
    """The skip list of one runner format for the given entries."""
    ids = [e.name for e in entries]
    if fmt == "cargo":
        return cargo(ids)
    if fmt == "nextest":
        return nextest(ids)
    if fmt == "pytest":
        return pytest(ids)
    if fmt == "gotest":
        return gotest(ids)
    return text(entries)
