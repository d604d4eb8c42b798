"""Patch coverage's diff reading, against the real `git diff` of real repositories."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatekeeper.gate.patch import diff_args, parse_diff

# git must not read the machine's or the user's configuration, except what a test sets
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_AUTHOR_DATE": "2026-11-20T10:00:00Z",
    "GIT_COMMITTER_DATE": "2026-11-20T10:00:00Z",
}


def git(repo: Path, *args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo.parent / "home")}
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd or repo,
        env=env,
        capture_output=True,
        check=True,
    )
    # as the API reads it
    return proc.stdout.decode("utf-8", errors="surrogateescape")


def init(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "home").mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def write(repo: Path, rel: str, text: str | bytes) -> None:
    p = repo / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8", newline="")


def numbered(prefix: str, n: int) -> str:
    return "".join(f"{prefix} {i}\n" for i in range(1, n + 1))


def changed(repo: Path, base: str = "main", cwd: Path | None = None) -> dict[str, frozenset[int]]:
    return parse_diff(git(repo, *diff_args(base), cwd=cwd))


# ---------------------------------------------------------------------------------------------
# One branch with every kind of change git reports
# ---------------------------------------------------------------------------------------------

UNICODE = "dóc ünï/tést file.py"  # non-ASCII and spaces: git quotes it with octal escapes
ODD = 'odd "quoted"\tname\\x.py'  # a double quote, a tab and a backslash in one name


@pytest.fixture
def branch_repo(tmp_path: Path) -> Path:
    """main: the base; feature: every kind of change, with known added line numbers."""
    repo = init(tmp_path)
    write(repo, "keep.py", numbered("keep", 10))
    write(repo, "edit.py", numbered("edit", 10))
    write(repo, "gone.py", numbered("gone", 5))
    write(repo, "old name.py", numbered("renamed file line", 20))
    write(repo, "moved.py", numbered("moved untouched", 8))
    write(repo, "blob.bin", bytes(range(256)) * 4)
    write(repo, "tool.sh", "#!/bin/sh\necho hi\n")
    write(repo, UNICODE, numbered("unicode", 3))
    write(repo, ODD, numbered("odd", 2))
    write(repo, "nonl.py", "a\nb")  # no newline at the end
    write(repo, "shrink.py", numbered("shrink", 6))
    write(repo, "sql.py", "select 1\n-- a comment\nselect 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")

    # edit.py: lines 3 and 7 changed, two lines inserted after line 9 (they become 10 and 11)
    lines = numbered("edit", 10).splitlines(keepends=True)
    lines[2] = "edit 3 changed\n"
    lines[6] = "edit 7 changed\n"
    lines[9:9] = ["inserted a\n", "inserted b\n"]
    write(repo, "edit.py", "".join(lines))
    (repo / "gone.py").unlink()
    # renamed into a new folder, line 5 changed (similar enough to be a rename)
    (repo / "new dir").mkdir()
    moved = numbered("renamed file line", 20).splitlines(keepends=True)
    moved[4] = "renamed file line 5, edited\n"
    write(repo, "new dir/new name.py", "".join(moved))
    (repo / "old name.py").unlink()
    (repo / "moved.py").rename(repo / "moved2.py")  # a pure rename: no line added
    write(repo, "blob.bin", bytes(range(255, -1, -1)) * 4)
    os.chmod(repo / "tool.sh", 0o755)  # mode only
    write(repo, UNICODE, "unicode 1\nunicode 2 changed\nunicode 3\n")
    write(repo, ODD, numbered("odd", 2) + "odd 3\n")
    write(repo, "nonl.py", "a\nb\nc\n")  # b gains its newline (changed), c is new
    write(repo, "shrink.py", "shrink 1\nshrink 2\nshrink 6\n")  # deletions only
    # added lines that look like diff headers once git prefixes them with "+" or "-"
    write(repo, "sql.py", "select 1\n++ not a header\n--- also not\nselect 2\n")
    write(repo, "added.py", numbered("new", 4))
    write(repo, "empty new.py", "")  # a `diff --git` header with no ---/+++ lines at all
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feature")

    # main moves on after the branch: its changes are not the branch's
    git(repo, "checkout", "-q", "main")
    write(repo, "keep.py", "keep 1 on main\n" + numbered("keep", 10).split("\n", 1)[1])
    write(repo, "main only.py", numbered("main", 3))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main moves on")
    git(repo, "checkout", "-q", "feature")

    # not committed: one staged, one unstaged change (both count: the tests ran on them)
    lines = numbered("keep", 10).splitlines(keepends=True)
    lines[4] = "keep 5 unstaged\n"
    write(repo, "keep.py", "".join(lines))
    write(repo, "staged.py", numbered("staged", 2))
    git(repo, "add", "staged.py")
    return repo


EXPECTED = {
    "edit.py": frozenset({3, 7, 10, 11}),
    "new dir/new name.py": frozenset({5}),
    UNICODE: frozenset({2}),
    ODD: frozenset({3}),
    "nonl.py": frozenset({2, 3}),
    "sql.py": frozenset({2, 3}),
    "added.py": frozenset({1, 2, 3, 4}),
    "keep.py": frozenset({5}),
    "staged.py": frozenset({1, 2}),
}


def test_every_kind_of_change_from_real_git(branch_repo: Path) -> None:
    assert changed(branch_repo) == EXPECTED


def test_the_raw_diff_has_the_cases_the_parser_must_handle(branch_repo: Path) -> None:
    """The fixture really produces the tricky forms (so the test above is not vacuous)."""
    text = git(branch_repo, *diff_args("main"))
    assert '+++ "b/d\\303\\263c \\303\\274n\\303\\257/t\\303\\251st file.py"' in text
    assert '"b/odd \\"quoted\\"\\tname\\\\x.py"' in text
    assert "+++ b/new dir/new name.py\t" in text  # git ends a name with a space with a tab
    assert "rename from old name.py" in text and "rename to new dir/new name.py" in text
    assert "rename from moved.py\nrename to moved2.py" in text
    assert "+++ b/moved2.py" not in text  # a pure rename has no hunk
    assert "Binary files a/blob.bin and b/blob.bin differ" in text
    assert "old mode 100644\nnew mode 100755" in text
    assert "deleted file mode" in text and "+++ /dev/null" in text
    assert "\\ No newline at end of file" in text
    assert "\n+++ not a header\n" in text and "\n+--- also not\n" in text
    assert "\n--- a comment\n" in text  # a removed "-- a comment", shown like a file header
    assert ",0 @@" in text  # a hunk that adds nothing (shrink.py)
    empty = text.split("diff --git a/empty new.py b/empty new.py\n", 1)[1].split("diff --git")[0]
    assert empty.startswith("new file mode") and "+++" not in empty
    assert "main only.py" not in text and "keep 1 on main" not in text


def test_paths_stay_repository_paths_whatever_the_git_config(branch_repo: Path) -> None:
    for key, value in (
        ("diff.noprefix", "true"),
        ("diff.mnemonicPrefix", "true"),
        ("diff.relative", "true"),
        ("diff.renames", "false"),
        ("color.ui", "always"),
        ("color.diff", "always"),
        ("core.quotePath", "false"),
        ("diff.external", "false"),
    ):
        git(branch_repo, "config", key, value)
    sub = branch_repo / "new dir"
    assert changed(branch_repo, cwd=sub) == EXPECTED


def test_unquoted_non_ascii_paths_with_quotepath_off(branch_repo: Path) -> None:
    git(branch_repo, "config", "core.quotePath", "false")
    text = git(branch_repo, *diff_args("main"))
    assert f"+++ b/{UNICODE}\t" in text  # UTF-8 as is, tab-terminated (it has a space)
    assert parse_diff(text) == EXPECTED


def test_a_base_that_looks_like_an_option_is_a_revision(branch_repo: Path) -> None:
    """`--base --output=FILE` must not make git write a file: it is read as a revision."""
    target = branch_repo.parent / "written"
    args = diff_args(f"--output={target}")
    assert args[-2:] == ["--end-of-options", f"--output={target}"]
    with pytest.raises(subprocess.CalledProcessError):  # git refuses; the API says why
        git(branch_repo, *args)
    assert not target.exists()


def test_nothing_changed_is_an_empty_diff(tmp_path: Path) -> None:
    repo = init(tmp_path)
    write(repo, "a.py", "x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    text = git(repo, *diff_args("main"))
    assert text == ""
    assert parse_diff(text) == {}


def test_new_repository_file_added_and_deleted_lines(tmp_path: Path) -> None:
    """A file whose lines are all replaced: every new line is added, in order."""
    repo = init(tmp_path)
    write(repo, "a.py", numbered("old", 3))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "checkout", "-qb", "b")
    write(repo, "a.py", numbered("new", 5))
    git(repo, "commit", "-qam", "two")
    assert changed(repo) == {"a.py": frozenset({1, 2, 3, 4, 5})}


def test_copies_count_as_new_files_and_copy_headers_parse(tmp_path: Path) -> None:
    """gatekeeper's diff does not look for copies: a copied module is new, untested code.
    git's copy headers (with -C) still parse, under the copy's name."""
    repo = init(tmp_path)
    write(repo, "orig.py", numbered("shared line", 12))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "checkout", "-qb", "b")
    lines = numbered("shared line", 12).splitlines(keepends=True)
    lines[7] = "edited in the copy\n"
    write(repo, "copy.py", "".join(lines))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "copy")
    assert changed(repo) == {"copy.py": frozenset(range(1, 13))}
    args = diff_args("main")
    with_copies = [*args[:-3], "--find-copies-harder", *args[-3:]]
    text = git(repo, *with_copies)
    assert "copy from orig.py\ncopy to copy.py" in text
    assert parse_diff(text) == {"copy.py": frozenset({8})}


def test_combined_diffs_of_merges_are_skipped(tmp_path: Path) -> None:
    repo = init(tmp_path)
    write(repo, "a.py", numbered("a", 3))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "checkout", "-qb", "side")
    write(repo, "a.py", "side\n" + numbered("a", 3))
    git(repo, "commit", "-qam", "side")
    git(repo, "checkout", "-q", "main")
    write(repo, "a.py", numbered("a", 3) + "main\n")
    git(repo, "commit", "-qam", "main")
    git(repo, "merge", "-q", "--no-commit", "side")
    write(repo, "a.py", "resolved\n" + numbered("a", 3) + "main\n")  # an evil merge
    git(repo, "commit", "-qam", "merge")
    text = git(repo, "show", "--format=", "--cc", "HEAD")
    assert text.startswith("diff --cc a.py") and "@@@" in text
    assert parse_diff(text) == {}


# ---------------------------------------------------------------------------------------------
# Random edits: the lines git did not report are the old file's, in order
# ---------------------------------------------------------------------------------------------

edits = st.lists(st.sampled_from(["keep", "drop", "change", "insert"]), min_size=1, max_size=25)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=edits)
def test_random_edits_against_real_git(
    tmp_path_factory: pytest.TempPathFactory, ops: list[str]
) -> None:
    repo = init(tmp_path_factory.mktemp("r"))
    old = [f"line {i}" for i in range(len(ops))]
    new: list[str] = []
    added: set[int] = set()
    for i, op in enumerate(ops):
        if op == "keep":
            new.append(old[i])
        elif op == "change":
            new.append(f"changed {i}")
            added.add(len(new))
        elif op == "insert":
            new.append(old[i])
            new.append(f"inserted {i}")
            added.add(len(new))
    write(repo, "f.py", "".join(x + "\n" for x in old))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "checkout", "-qb", "b")
    write(repo, "f.py", "".join(x + "\n" for x in new))
    git(repo, "commit", "-q", "--allow-empty", "-am", "two")
    got = changed(repo).get("f.py", frozenset())
    # every line is unique, so git's diff is exact: the lines this test wrote as new
    assert got == added
    unchanged = [line for n, line in enumerate(new, start=1) if n not in got]
    assert unchanged == [x for x in old if x in unchanged]  # a subsequence of the old file


# ---------------------------------------------------------------------------------------------
# Input that is not what git writes
# ---------------------------------------------------------------------------------------------


def real_diff(tmp_path: Path) -> str:
    repo = init(tmp_path)
    write(repo, "a.py", numbered("a", 4))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "checkout", "-qb", "b")
    write(repo, "a.py", "a 1\nA 2\nA 3\na 4\nnew\n")
    git(repo, "commit", "-qam", "two")
    return git(repo, *diff_args("main"))


def test_the_real_diff_used_below(tmp_path: Path) -> None:
    assert parse_diff(real_diff(tmp_path)) == {"a.py": frozenset({2, 3, 5})}


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda t: t.rsplit("\n", 2)[0] + "\n", "ends inside a hunk"),
        (lambda t: t.replace("@@ -2,2 +2,2 @@", "@@ -2,2 +2,1 @@"), "outside any hunk"),
        (lambda t: t.replace("@@ -2,2 +2,2 @@", "@@ -x +y @@"), "not a hunk header"),
        (lambda t: t.replace("+++ b/a.py\n", ""), "before the ---/+++"),
    ],
    ids=["truncated", "count-too-small", "bad-header", "no-file-header"],
)
def test_broken_diffs_are_refused(tmp_path: Path, cut: object, message: str) -> None:
    text = real_diff(tmp_path)
    broken = cut(text)  # type: ignore[operator]
    assert broken != text
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_diff(broken)


@pytest.mark.parametrize("text", ["hello world\n", "fatal: bad revision 'origin/main'\n"])
def test_text_that_is_not_a_diff_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a diff"):
        parse_diff(text)
