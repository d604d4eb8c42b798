"""Patch coverage's input: which lines a change added, from `git diff` (pure: the API runs git).

What counts as changed, and why this git command, is explained in docs/gate-coverage.md.
"""

from __future__ import annotations

import re

# The options, and why:
#   --merge-base BASE     compare the merge base of BASE and HEAD with the working tree: the
#                         branch's own changes (not what landed on BASE since), committed or not,
#                         numbered as in the files the tests just ran on (git >= 2.30)
#   --unified=0           only changed lines; no context to skip
#   --find-renames        a moved file counts by its edits, not as all new lines
#   --no-color --no-ext-diff --no-textconv
#                         the plain diff, whatever the user's git config says
#   --src-prefix/--dst-prefix, --no-relative
#                         paths from the repository root with the usual a/ b/ prefixes even
#                         under diff.noprefix, diff.mnemonicPrefix or diff.relative
#   --ignore-submodules   a submodule bump is not a source change
#   --end-of-options      BASE is a revision even when it starts with "-"
_OPTIONS = (
    "diff",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--unified=0",
    "--find-renames",
    "--no-relative",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--ignore-submodules=all",
    "--merge-base",
)

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {
    "a": 7,
    "b": 8,
    "t": 9,
    "n": 10,
    "v": 11,
    "f": 12,
    "r": 13,
    '"': 34,
    "\\": 92,
}


def diff_args(base: str) -> list[str]:
    """The arguments after ``git`` that list the lines changed against ``base``
    (``git diff ... --merge-base --end-of-options BASE``)."""
    return [*_OPTIONS, "--end-of-options", base]


def parse_diff(text: str) -> dict[str, frozenset[int]]:
    """Added lines per file, in the new file's numbering, from a unified diff.

    Keys are the new paths as git writes them after ``b/`` (C-style quoted names decoded),
    so a renamed or copied file is listed under its new name. A file appears only when it has
    at least one added line: deleted files, binary files, mode-only changes, pure renames and
    deletions inside a file add none. A changed line is a removed line plus an added one, so it
    is an added line. ``\\ No newline at end of file`` markers are skipped. Combined diffs of
    merge commits (``diff --cc``) are skipped.

    Raises ValueError when the text is not a diff (content that no file header precedes) or is
    cut short (a hunk with fewer lines than its header announces, a malformed hunk header):
    judging patch coverage on part of a diff would be wrong.
    """
    out: dict[str, set[int]] = {}
    path: str | None = None  # the current file's new path; None when it has no new side
    in_file = False  # a ---/+++ pair was read for the current file
    combined = False
    old_left = new_left = 0
    line_no = 0
    seen_header = False
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for index, line in enumerate(lines, start=1):
        if old_left > 0 or new_left > 0:
            # inside a hunk: every line is content, even one that looks like a header
            tag = line[:1]
            if tag == "+":
                if new_left <= 0:
                    raise _broken(index, "more added lines than the hunk header says")
                if path is not None:
                    out.setdefault(path, set()).add(line_no)
                line_no += 1
                new_left -= 1
            elif tag == "-":
                if old_left <= 0:
                    raise _broken(index, "more removed lines than the hunk header says")
                old_left -= 1
            elif tag in (" ", ""):  # context (some tools strip an empty context line's space)
                if old_left <= 0 or new_left <= 0:
                    raise _broken(index, "more context lines than the hunk header says")
                line_no += 1
                old_left -= 1
                new_left -= 1
            elif tag == "\\":  # "\ No newline at end of file"
                pass
            else:
                raise _broken(index, "the hunk ends before the lines its header announces")
            continue
        if line.startswith("\\"):  # "\ No newline" after a hunk's last line
            continue
        if line.startswith("diff --cc ") or line.startswith("diff --combined "):
            combined, in_file, path = True, False, None
        elif line.startswith("diff "):
            combined, in_file, path = False, False, None
        elif line.startswith("--- ") and not combined:
            in_file, path = False, None
        elif line.startswith("+++ ") and not combined:
            path = _new_path(line[4:])
            in_file = True
        elif line.startswith("@@@"):
            if not combined:
                raise _broken(index, "a combined-diff hunk outside a `diff --cc` file")
        elif line.startswith("@@"):
            if combined:
                continue
            m = _HUNK.match(line)
            if m is None:
                raise _broken(index, f"not a hunk header: {line[:60]!r}")
            if not in_file:
                raise _broken(index, "a hunk before the ---/+++ lines that name its file")
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            line_no = int(m.group(3))
        elif line[:1] in ("+", "-") and not combined:
            # no git header line starts so: an added or removed line beyond its hunk's count
            raise _broken(index, f"a changed line outside any hunk: {line[:60]!r}")
        else:
            continue
        seen_header = True
        # anything else is a git extended header line ("index", "new file mode", "rename
        # from", "Binary files ... differ", ...) or text around the diff: nothing to count
    if old_left > 0 or new_left > 0:
        raise _broken(len(lines), "the diff ends inside a hunk (cut short?)")
    if not seen_header and any(line.strip() for line in lines):
        raise ValueError("not a diff: no `diff`, `---`/`+++` or `@@` line in it")
    return {p: frozenset(numbers) for p, numbers in sorted(out.items())}


def _broken(index: int, what: str) -> ValueError:
    return ValueError(f"line {index}: {what}")


def _new_path(raw: str) -> str | None:
    """The path of a ``+++`` line: None for /dev/null, without the ``b/`` prefix."""
    # git ends a name that holds a space with a tab (for GNU patch); other tools put a
    # timestamp after the tab
    name = _unquote(raw) if raw.startswith('"') else raw.split("\t", 1)[0]
    if name == "/dev/null":
        return None
    if name.startswith("b/"):
        name = name[2:]
    return name


def _unquote(quoted: str) -> str:
    """A C-style quoted name as git writes it ("a/t\\303\\251st.py") -> the name (UTF-8)."""
    out = bytearray()
    i = 1
    n = len(quoted)
    while i < n:
        c = quoted[i]
        if c == '"':
            break
        if c == "\\" and i + 1 < n:
            nxt = quoted[i + 1]
            if nxt in "01234567":
                digits = quoted[i + 1 : i + 4]
                out.append(int(digits, 8) & 0xFF)
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)) if ord(nxt) < 128 else ord("?"))
            i += 2
            continue
        out.extend(c.encode("utf-8", errors="surrogateescape"))
        i += 1
    return out.decode("utf-8", errors="surrogateescape")
