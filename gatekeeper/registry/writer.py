"""Writing flaky-tests.yml: a person's comments, key order, quotes and unknown keys survive.

The new text is the old text with only what changed rewritten. Each entry is a block of lines
(from its ``-`` to its last value); an unchanged entry is copied byte for byte, a changed one
goes through ruamel.yaml's round trip (so the comments and quotes inside it stay) with only the
changed keys set, and the comment lines between entries are moved by hand: ruamel hangs a
comment that introduces the next entry on the last key of the previous one, where any edit of
that entry would drag or drop it. The same path writes a new file from ``CANONICAL_EMPTY``, so
a fresh dump and an edited canonical file are the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    PlainScalarString,
    SingleQuotedScalarString,
)

from gatekeeper.errors import RegistryError
from gatekeeper.model import QuarantineEntry, Registry
from gatekeeper.registry import codec
from gatekeeper.registry.reader import Span, decode, parse_document, resolve_plain
from gatekeeper.registry.validate import reference_problems

HEADER = (
    "# Flaky tests in quarantine, reviewed like code. The keys under `evidence:` are written by\n"
    "# `gatekeeper classify`; the others are yours. Format: gatekeeper's docs/registry.md\n"
)
CANONICAL_EMPTY = HEADER + "flaky_tests: []\n"
_KEY = "flaky_tests:\n"
_STR = "tag:yaml.org,2002:str"


#: Replace lines [start, end) by these lines.
_Edit = tuple[int, int, list[str]]


@dataclass(frozen=True, slots=True)
class _Style:
    """The file's indentation, so that rewritten entries look like their neighbours."""

    mapping: int = 2
    sequence: int = 4  # the column of an entry's keys, from the `flaky_tests` key
    offset: int = 2  # the column of the dash
    blank_between: bool = True  # a blank line between entries


def dump(registry: Registry, original: str | bytes | None = None, *, source: str) -> str:
    """The text of ``registry``: ``original`` edited where they differ, or a new canonical file."""
    keys = [e.key for e in registry.entries]
    if len(set(keys)) != len(keys):
        service, name = next(k for k in keys if keys.count(k) > 1)
        raise RegistryError(
            f"{name} in {service}", "listed twice", hint="keep one entry per test and service"
        )
    text = CANONICAL_EMPTY if original is None else decode(original, source)
    old, _, spans = parse_document(text, source)
    if old == registry:
        return text
    if spans is None:  # an empty file, or only comments: they stay on top
        fresh = _render(registry, CANONICAL_EMPTY, source)
        return _ensure_newline(text) + fresh[len(HEADER) :] if text.strip() else fresh
    seq = spans.children.get("flaky_tests")
    if spans.flow or seq is None:  # `{flaky_tests: [...]}`: nothing worth keeping by hand
        return _render(registry, CANONICAL_EMPTY, source)
    lines = _ensure_newline(text).splitlines(keepends=True)
    style = _detect_style(lines, seq)
    edits: list[_Edit] = []
    if old.entries != registry.entries:
        edits.append(_edit_entries(lines, seq, old, registry, style, source))
    if old.extra != registry.extra:
        edits += _edit_top(spans, seq, old.extra, registry.extra, style)
    # Bottom up, so that each edit's line numbers still hold; at the same line, the
    # replacement before the insertion (new top-level keys go above `flaky_tests:`).
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[start:end] = replacement
    return "".join(lines)


def _render(registry: Registry, original: str, source: str) -> str:
    return dump(registry, original, source=source)


def save(path: str | os.PathLike[str], registry: Registry) -> bool:
    """Write ``registry`` to ``path`` atomically; False when the file already says exactly that.

    The existing file must be a valid registry (it is edited, not replaced). The new text is
    read back and checked by both validators before it replaces the old file.
    """
    target = Path(path)
    source = str(path)
    try:
        data: bytes | None = target.read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as err:
        raise RegistryError(source, f"cannot read it: {err.strerror}") from err
    text = dump(registry, data, source=source)
    if data is not None and text == decode(data, source):
        return False  # already says exactly this: not even the modification time changes
    back, document, _ = parse_document(text, source)
    reference = reference_problems(document) if document is not None else []
    if back != registry or reference:
        raise RegistryError(
            source,
            "the rewritten registry would not read back as intended; nothing was written",
            hint="this is a bug in gatekeeper: please report it with the file",
        )
    crlf = data is not None and b"\r\n" in data
    out = (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")
    if data is not None and data.startswith(b"\xef\xbb\xbf"):
        out = b"\xef\xbb\xbf" + out
    atomic_write(target, out, source)
    return True


def atomic_write(target: Path, data: bytes, source: str) -> None:
    """Replace ``target`` with ``data``: readers see the old file or the new one, never a mix.

    A temporary file in the same directory is written and fsynced, then renamed over the old
    one (os.replace is atomic on POSIX and Windows); on any failure the temporary file is
    removed and the old file is untouched.
    """
    target = Path(os.path.realpath(target))  # a symlinked registry stays a symlink
    directory = target.parent
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0600 would hide a new registry from the team's other users
    except OSError as err:
        raise RegistryError(source, f"cannot write it: {err.strerror}") from err
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=directory
        )
    except OSError as err:
        raise RegistryError(
            source,
            f"cannot write it: {err.strerror}",
            hint="the directory must be writable; the registry was left as it was",
        ) from err
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise RegistryError(
                source,
                f"cannot write it: {err.strerror}",
                hint="the registry was left as it was",
            ) from err
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash only once synced
        directory_handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)


# ---------------------------------------------------------------------------------------------
# The entries: blocks of lines
# ---------------------------------------------------------------------------------------------


def _edit_entries(
    lines: list[str], seq: Span, old: Registry, new: Registry, style: _Style, source: str
) -> _Edit:
    """One edit for the lines from ``flaky_tests:`` to the end of its last entry."""
    root = seq.key_start[1] if seq.key_start else 0
    if seq.flow or not seq.children:
        return _replace_inline_list(lines, seq, new, style, root)

    gaps: list[list[str]] = []
    bodies: list[list[str]] = []
    previous_end = seq.key_start[0] if seq.key_start else 0
    for index in range(len(old.entries)):
        span = seq.children[index]
        dash = _dash_line(lines, span.start[0], seq.start[1])
        last = span.last_line()
        gaps.append(lines[previous_end + 1 : dash])
        bodies.append(lines[dash : last + 1])
        previous_end = last
    key_line = seq.key_start[0] if seq.key_start else 0
    region_end = previous_end + 1

    wanted = {entry.key for entry in new.entries}
    carried: dict[int, list[str]] = {}
    pending: list[str] = []
    for index, entry in enumerate(old.entries):
        if entry.key in wanted:
            carried[index] = pending + gaps[index]
            pending = []
        else:
            # The comment lines right above an entry are about it and go with it; comments
            # further up (a blank line apart) head a group and stay for the next entry.
            keep, _about_it = _split_gap(gaps[index])
            if any(_is_comment(line) for line in keep):
                pending += keep

    if not new.entries:
        return (key_line, region_end, [_with_empty_list(lines[key_line], seq), *pending])

    where = {entry.key: index for index, entry in enumerate(old.entries)}
    out = [lines[key_line]]
    for position, entry in enumerate(new.entries):
        found = where.get(entry.key)
        if found is None:
            gap = ["\n"] if position and style.blank_between else []
            body = _render_entry(entry, style, root)
        else:
            gap = carried[found]
            if position == 0 and found != 0:
                gap = _drop_leading_blanks(gap)
            elif position and found == 0 and not gap and style.blank_between:
                gap = ["\n"]  # the first entry moved down: separate it like the others
            body = bodies[found]
            if old.entries[found] != entry:
                body = _edit_entry(body, old.entries[found], entry, style, root, source)
        out += gap
        out += body
    return (key_line, region_end, out + pending)


def _replace_inline_list(
    lines: list[str], seq: Span, new: Registry, style: _Style, root: int
) -> _Edit:
    """``flaky_tests: []``, ``flaky_tests:`` (null) or a flow list becomes a block list."""
    (start_line, start_column), (end_line, end_column) = seq.start, seq.end
    before = lines[start_line][:start_column].rstrip(" ")
    after = lines[end_line][end_column:]
    if not new.entries:
        return (start_line, end_line + 1, [f"{before} []{after}"])
    if not after.strip():
        after = "\n"
    elif not after.startswith(" "):
        after = "  " + after.lstrip()
    block: list[str] = []
    for position, entry in enumerate(new.entries):
        if position and style.blank_between:
            block.append("\n")
        block += _render_entry(entry, style, root)
    return (start_line, end_line + 1, [before + after, *block])


def _dash_line(lines: list[str], line: int, column: int) -> int:
    """The line of the ``-`` that starts the entry whose first key is on ``line``."""
    for number in range(line, -1, -1):
        text = lines[number]
        if len(text) > column and text[column] == "-" and not text[:column].strip():
            return number
    raise AssertionError(f"no '-' at column {column} above line {line + 1}")  # pragma: no cover


def _split_gap(gap: list[str]) -> tuple[list[str], list[str]]:
    cut = len(gap)
    while cut and _is_comment(gap[cut - 1]):
        cut -= 1
    return gap[:cut], gap[cut:]


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _drop_leading_blanks(gap: list[str]) -> list[str]:
    start = 0
    while start < len(gap) and not gap[start].strip():
        start += 1
    return gap[start:]


def _with_empty_list(key_line: str, seq: Span) -> str:
    column = seq.key_end[1] if seq.key_end else 0
    colon = key_line.index(":", column)
    return key_line[: colon + 1] + " []" + key_line[colon + 1 :]


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _detect_style(lines: list[str], seq: Span) -> _Style:
    if seq.flow or not seq.children:
        return _Style()
    root = seq.key_start[1] if seq.key_start else 0
    offset = seq.start[1] - root
    first = seq.children[0]
    sequence = max(first.start[1] - root, offset + 2)
    mapping = 2
    for entry in seq.children.values():
        nested = [c for c in entry.children.values() if c.children and not c.flow and c.key_start]
        for child in nested:
            inner = next(iter(child.children.values()))
            if inner.key_start and child.key_start:
                mapping = max(inner.key_start[1] - child.key_start[1], 1)
                break
        else:
            continue
        break
    gaps = []
    entries = list(seq.children.values())
    for previous, _next in itertools.pairwise(entries):
        gaps.append(not lines[previous.last_line() + 1].strip())
    blank_between = sum(gaps) * 2 >= len(gaps) if gaps else True
    return _Style(mapping, sequence, offset, blank_between)


# ---------------------------------------------------------------------------------------------
# One entry through ruamel.yaml
# ---------------------------------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """No anchors, and floats as PyYAML reads them back (YAML 1.1 wants 1.0e-05, not 1e-05)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # the reader refuses aliases; one date object used twice is two dates

    def represent_plain_float(self, data: float) -> Any:
        if data != data:
            text = ".nan"
        elif data in (float("inf"), float("-inf")):
            text = ".inf" if data > 0 else "-.inf"
        else:
            text = repr(data)
            mantissa, _, exponent = text.partition("e")
            if "." not in mantissa:
                mantissa += ".0"
            text = f"{mantissa}e{exponent}" if exponent else mantissa
        return self.represent_scalar("tag:yaml.org,2002:float", text)

    def represent_kept_float(self, data: ScalarFloat) -> Any:
        # ruamel re-formats a float it read from its width and precision; with an exponent it
        # cuts digits off (3.667172768769664e+178 came back as ...663e+178), so those are
        # written like new floats. Other forms keep their look (1.50 stays 1.50).
        if getattr(data, "_exp", None) is None:
            node = self.represent_scalar_float(data)
            try:
                if float(str(node.value).replace("_", "")) == float(data):
                    return node
            except ValueError:
                pass
        return self.represent_plain_float(float(data))


_Representer.add_representer(float, _Representer.represent_plain_float)
_Representer.add_representer(ScalarFloat, _Representer.represent_kept_float)


@lru_cache(maxsize=8)
def _yaml(style: _Style) -> YAML:
    handler = YAML(typ="rt")
    handler.Representer = _Representer
    handler.preserve_quotes = True
    handler.width = 1 << 30  # never fold a long reason or test id over several lines
    handler.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    return handler


def _dump_list(handler: YAML, document: CommentedMap) -> str:
    stream = io.StringIO()
    handler.dump(document, stream)
    text = stream.getvalue()
    if not text.startswith(_KEY):  # pragma: no cover - ruamel always starts with the key
        raise AssertionError(text[:80])
    return text[len(_KEY) :]


def _render_entry(entry: QuarantineEntry, style: _Style, root: int) -> list[str]:
    handler = _yaml(style)
    item = _to_yaml(codec.entry_to_plain(entry))
    text = _dump_list(handler, CommentedMap([("flaky_tests", CommentedSeq([item]))]))
    return _indent(text, root)


def _edit_entry(
    body: list[str],
    old: QuarantineEntry,
    new: QuarantineEntry,
    style: _Style,
    root: int,
    source: str,
) -> list[str]:
    handler = _yaml(style)
    try:
        document = handler.load(_KEY + "".join(_dedent(body, root)))
    except RuamelError as err:
        raise RegistryError(
            source,
            f"cannot rewrite the entry for {old.service} {old.name}: {err}",
            hint="simplify the YAML of that entry, or edit it by hand",
        ) from err
    item = document["flaky_tests"][0]
    _patch(item, codec.entry_to_plain(old), codec.entry_to_plain(new), codec.ENTRY_KEYS, "evidence")
    return _indent(_dump_list(handler, document), root)


def _patch(
    target: CommentedMap,
    old: dict[str, Any],
    new: dict[str, Any],
    order: tuple[str, ...],
    last: str | None,
) -> None:
    """Make ``target`` say ``new`` where ``old`` and ``new`` differ; leave the rest alone."""
    for key in old:
        if key not in new and key in target:
            del target[key]
    for key, value in new.items():
        if key in old and _same(old[key], value):
            continue
        current = target.get(key)
        if key == "evidence" and isinstance(current, CommentedMap) and key in old:
            _patch(current, old[key], value, codec.EVIDENCE_KEYS, None)
            continue
        converted = _to_yaml(value, key)
        if key in target:
            target[key] = converted
        else:
            target.insert(_position(target, key, order, last), key, converted)


def _position(target: CommentedMap, key: str, order: tuple[str, ...], last: str | None) -> int:
    keys = list(target.keys())
    if key == last or (key not in order and last not in keys):
        return len(keys)
    if key not in order:
        return keys.index(last)  # unknown keys go before the evidence
    rank = order.index(key)
    position = 0
    for index, present in enumerate(keys):
        if present in order and order.index(present) < rank:
            position = index + 1
    return position


def _same(one: Any, two: Any) -> bool:
    if type(one) is not type(two):
        return False
    if isinstance(one, dict):
        return list(one) == list(two) and all(_same(one[k], two[k]) for k in one)
    if isinstance(one, list):
        return len(one) == len(two) and all(_same(a, b) for a, b in zip(one, two, strict=True))
    return bool(one == two)


_ESCAPE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_FLOW_KEYS = frozenset({"failure_rate_ci95", "first_failure", "last_failure"})


def _to_yaml(value: Any, key: str | None = None, *, flow: bool = False) -> Any:
    """A plain value as ruamel.yaml should write it, so that PyYAML reads it back the same."""
    if isinstance(value, dict):
        inner = flow or key in _FLOW_KEYS
        mapping = CommentedMap((k, _to_yaml(v, k, flow=inner)) for k, v in value.items())
        if inner:
            mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, list | tuple):
        inner = flow or key in _FLOW_KEYS
        sequence = CommentedSeq(_to_yaml(v, flow=inner) for v in value)
        if inner:
            sequence.fa.set_flow_style()
        return sequence
    if isinstance(value, str):
        # Always a ScalarString: ruamel gives a plain str the quotes of the value it replaces.
        style = _quotes(value, flow)
        if style == '"':
            return DoubleQuotedScalarString(value)
        if style == "'":
            return SingleQuotedScalarString(value)
        return PlainScalarString(value)
    return value


_ANALYZER = yaml.emitter.Emitter(io.StringIO(), allow_unicode=True)


def _quotes(text: str, flow: bool) -> str | None:
    """The quotes ``text`` needs (None: plain is fine).

    ruamel.yaml writes YAML 1.2 and the reader is PyYAML (YAML 1.1, like most tools), and the
    two disagree: `yes`, `on` or `1:30` are plain text in 1.2 but true and 90 in 1.1; NEL, LS
    and PS end a line only in 1.1; `?0` may start a plain value in a flow mapping only in 1.2.
    So PyYAML's own analysis decides, and ruamel is told.
    """
    if _ESCAPE.search(text):
        return '"'  # controls and 1.1 line breaks read back the same only as escapes
    analysis = _ANALYZER.analyze_scalar(text)
    if analysis.multiline:
        return '"'
    plain = analysis.allow_flow_plain if flow else analysis.allow_block_plain
    if plain and resolve_plain(text) == _STR:
        return None
    return "'" if analysis.allow_single_quoted else '"'


def _edit_top(
    spans: Span,
    seq: Span,
    old: Iterable[tuple[str, Any]],
    new: Iterable[tuple[str, Any]],
    style: _Style,
) -> list[_Edit]:
    """Top-level keys besides ``flaky_tests`` (rare): each changed key's lines are rewritten."""
    before, after = dict(old), dict(new)
    root = seq.key_start[1] if seq.key_start else 0
    edits: list[_Edit] = []
    for key, value in before.items():
        span = spans.children[key]
        first = span.key_start[0] if span.key_start else span.start[0]
        if key not in after:
            edits.append((first, span.last_line() + 1, []))
        elif not _same(value, after[key]):
            edits.append((first, span.last_line() + 1, _render_top(key, after[key], style, root)))
    added = [
        line
        for key in after
        if key not in before
        for line in _render_top(key, after[key], style, root)
    ]
    if added:
        above = seq.key_start[0] if seq.key_start else 0
        edits.append((above, above, added))
    return edits


def _render_top(key: str, value: Any, style: _Style, root: int) -> list[str]:
    stream = io.StringIO()
    _yaml(style).dump(CommentedMap([(key, _to_yaml(value, key))]), stream)
    return _indent(stream.getvalue(), root)


def _indent(text: str, columns: int) -> list[str]:
    lines = text.splitlines(keepends=True)
    if not columns:
        return lines
    pad = " " * columns
    return [pad + line if line.strip() else line for line in lines]


def _dedent(lines: list[str], columns: int) -> list[str]:
    if not columns:
        return lines
    out = []
    for line in lines:
        spaces = len(line) - len(line.lstrip(" "))
        out.append(line[min(spaces, columns) :])
    return out
