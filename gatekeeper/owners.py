"""Who owns a test: CODEOWNERS rules (GitHub's and GitLab's) and a test's file (pure).

Rules: https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/
customizing-your-repository/about-code-owners and https://docs.gitlab.com/user/project/codeowners/
reference/ -- gitignore-style patterns (matched by ``pathspec``), the last matching rule wins;
GitLab's ``[Section]`` headers each keep their own last match, and a path's owners are those of
every section. A test's file comes from its report (the JUnit ``file`` attribute, a failure's
location) or from its id: a Rust test's crate and module path, a dotted (Python, Java) suite,
a Go package. docs/owners.md describes both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from gatekeeper.errors import ConfigError

if TYPE_CHECKING:
    from pathspec.pattern import Pattern

#: Where GitHub (in this order) and GitLab look for the file; the first one found is used.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
MAX_BYTES = 3 * 1024 * 1024  # GitHub ignores a CODEOWNERS file larger than 3 MB

_SECTION = re.compile(r"^\^?\[(?P<name>[^\]]+)\](?:\[\d+\])?(?P<owners>(?:\s+.*)?)$")
_SPLIT = re.compile(r"(?<!\\)\s+")


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]
    line: int
    section: str = ""  # GitLab's section ("" before any section header, and on GitHub)


@dataclass(frozen=True)
class CodeOwners:
    """The rules of one CODEOWNERS file, in file order."""

    source: str
    rules: tuple[Rule, ...]
    _matchers: tuple[Pattern, ...] = field(default=(), repr=False, compare=False)

    def owners_of(self, path: str) -> tuple[str, ...]:
        """The owners of a repository path (``/``-separated, relative to the root): per
        section, the last rule that matches it; () when no rule does or it is unowned."""
        path = path.lstrip("/")
        found: dict[str, tuple[str, ...]] = {}
        for rule, matcher in zip(self.rules, self._matchers, strict=True):
            if matcher.match_file(path) is not None:
                found[rule.section] = rule.owners
        owners: list[str] = []
        for names in found.values():
            owners += [n for n in names if n not in owners]
        return tuple(owners)

    def owner_of(self, path: str) -> str | None:
        """The owners as the registry's ``owner`` field holds them: space-separated."""
        return " ".join(self.owners_of(path)) or None


def parse(text: str, source: str = "CODEOWNERS") -> CodeOwners:
    """The rules of a CODEOWNERS file. A pattern the gitignore syntax refuses, or a negation
    (``!``, which CODEOWNERS does not have), is an error naming its line."""
    from pathspec.patterns.gitignore.basic import GitIgnoreBasicPattern

    rules: list[Rule] = []
    matchers: list[Pattern] = []
    section = ""
    section_owners: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = _SECTION.match(line)
        if head and not line.startswith("[!"):
            section = head["name"].strip()
            section_owners = _owners(head["owners"])
            continue
        tokens = _SPLIT.split(line)
        pattern = tokens[0].replace("\\ ", " ").replace("\\#", "#")
        if pattern.startswith("!"):
            raise ConfigError(
                f"{source}:{number}: {pattern!r}: CODEOWNERS has no negated patterns",
                hint="list the paths you mean instead",
            )
        owners = _owners(" ".join(tokens[1:])) or (section_owners if section else ())
        try:
            matcher = GitIgnoreBasicPattern(pattern)
        except ValueError as err:
            raise ConfigError(
                f"{source}:{number}: {pattern!r} is not a valid pattern ({err})",
                hint="see docs/owners.md for the syntax",
            ) from err
        rules.append(Rule(pattern=pattern, owners=owners, line=number, section=section))
        matchers.append(matcher)
    return CodeOwners(source=source, rules=tuple(rules), _matchers=tuple(matchers))


def _owners(text: str) -> tuple[str, ...]:
    names: list[str] = []
    for token in text.split():
        if token.startswith("#"):
            break  # a comment after the owners
        names.append(token)
    return tuple(names)


@dataclass(frozen=True)
class RepositoryFiles:
    """What the test-id rules look up: the repository's files (``/``-separated, relative to
    its root) and its Rust crates (crate name, ``-`` as ``_`` -> the crate's folder)."""

    files: frozenset[str]
    crates: Mapping[str, str] = field(default_factory=dict)
    _by_stem: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    _dirs: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def of(cls, files: Iterable[str], crates: Mapping[str, str] | None = None) -> RepositoryFiles:
        kept = frozenset(f.strip("/") for f in files if f.strip("/"))
        by_stem: dict[str, list[str]] = {}
        dirs: set[str] = set()
        for f in sorted(kept):
            p = PurePosixPath(f)
            by_stem.setdefault(p.stem, []).append(f)
            dirs.update(str(d) for d in p.parents if str(d) != ".")
        return cls(kept, dict(crates or {}), by_stem, frozenset(dirs))

    def by_stem_list(self, stem: str) -> list[str]:
        """The files whose name without its extension is ``stem``."""
        return self._by_stem.get(stem, [])

    @property
    def dirs(self) -> frozenset[str]:
        return self._dirs


def path_of(test_id: str, stored: str | None, repo: RepositoryFiles, root: str = "") -> str | None:
    """The repository path of a test: the file its report named when that is a repository
    file (relative to ``root``, the repository's absolute path, or the one file it ends
    with), else one derived from its id (docs/owners.md), else the report's relative path as
    it is; None when nothing leads to a path."""
    reported = _relative(stored.replace("\\", "/"), root.rstrip("/")) if stored else None
    if reported:
        found = _in_repository(reported, repo)
        if found:
            return found
    suite, _, _ = test_id.partition("::")
    first = suite.split(" ")[0]
    if "/" in first and "." in PurePosixPath(first).name:  # a node id: tests/test_api.py::x
        found = _in_repository(_relative(first, root.rstrip("/")), repo)
        if found:
            return found
    derived = _rust_path(test_id, repo) or _dotted_path(suite, repo) or _package_path(suite, repo)
    if derived:
        return derived
    return reported if reported and not reported.startswith("/") else None


def _relative(path: str, root: str) -> str:
    if root and path.startswith(root + "/"):
        path = path[len(root) + 1 :]
    while path.startswith("./"):
        path = path[2:]
    return path


def _in_repository(path: str, repo: RepositoryFiles) -> str | None:
    """``path`` if the repository has it, else the one repository file that ends with it
    (a path relative to a crate or a test folder) or that it ends with (a path from another
    checkout: /home/runner/work/app/app/src/x.rs)."""
    if path in repo.files:
        return path
    stem = PurePosixPath(path).stem
    tail = {f for f in repo.by_stem_list(stem) if path.endswith("/" + f) or f.endswith("/" + path)}
    return tail.pop() if len(tail) == 1 else None


def _rust_path(test_id: str, repo: RepositoryFiles) -> str | None:
    parts = test_id.split("::")
    if len(parts) < 2:
        return None
    binary, modules = parts[0], parts[1:-1]
    crate = repo.crates.get(binary)
    if crate is not None:
        base = f"{crate}/src" if crate else "src"
        for k in range(len(modules), 0, -1):
            stem = "/".join(modules[:k])
            for candidate in (f"{base}/{stem}.rs", f"{base}/{stem}/mod.rs"):
                if candidate in repo.files:
                    return candidate
        for candidate in (f"{base}/lib.rs", f"{base}/main.rs"):
            if candidate in repo.files:
                return candidate
    # an integration test target (tests/api.rs) or a binary's (src/bin/cli.rs)
    found = [
        f
        for f in repo.by_stem_list(binary)
        if f.endswith(".rs") and (f"tests/{binary}.rs" in f or f"src/bin/{binary}.rs" in f)
    ]
    found += [f for f in repo.by_stem_list("main") if f.endswith(f"tests/{binary}/main.rs")]
    return found[0] if len(found) == 1 else None


def _dotted_path(suite: str, repo: RepositoryFiles) -> str | None:
    """``tests.test_query.TestRanking`` -> tests/test_query.py; ``com.example.FooTest`` ->
    src/test/java/com/example/FooTest.java: the longest prefix that names one file."""
    parts = [p for p in suite.split(".") if p]
    for k in range(len(parts), 0, -1):
        stem = "/".join(parts[:k])
        found = [
            f
            for f in repo.by_stem_list(parts[k - 1])
            if (f.rsplit(".", 1)[0] == stem or f.rsplit(".", 1)[0].endswith("/" + stem))
        ]
        if len(found) == 1:
            return found[0]
        if found:
            return min(found, key=lambda f: (f.count("/"), f))
    return None


def _package_path(suite: str, repo: RepositoryFiles) -> str | None:
    """A Go package (``example.com/search/query``): the longest tail that is a folder."""
    segments = [s for s in suite.split("/") if s]
    if len(segments) < 2:
        return None
    for k in range(len(segments) - 1):
        tail = "/".join(segments[k:])
        folders = sorted(d for d in repo.dirs if d == tail or d.endswith("/" + tail))
        if len(folders) == 1:
            inside = sorted(f for f in repo.files if f.startswith(folders[0] + "/"))
            tests = [f for f in inside if f.endswith("_test.go")]
            return (tests or inside)[0]
    return None
