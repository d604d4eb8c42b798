"""XML prologs, shared by the XML parsers: what comes before the root element, and the refusal
of entity declarations (billion laughs, XXE) before libxml2 ever sees the document."""

from __future__ import annotations

import dataclasses
import re

from gatekeeper.errors import EmptyReportError, ReportParseError, UnsafeInputError

_XML_NAME = re.compile(r"[A-Za-z_:][-A-Za-z0-9._:]*")

UNSAFE_PROBLEM = (
    "the DOCTYPE declares XML entities; refusing to read it (entity expansion and external "
    "entities are how billion-laughs and XXE attacks work)"
)


def unsafe_hint(what: str) -> str:
    return f"{what} never need a DOCTYPE: remove it, or check where this file came from"


# ---------------------------------------------------------------------------------------------
# The prolog: what comes before the root element (sniffing, the entity check, the root's line)
# ---------------------------------------------------------------------------------------------


def decode_head(head: bytes) -> str:
    """``head`` as text good enough to read markup: UTF-16 decoded, else one char per byte."""
    if head.startswith((b"\xff\xfe", b"<\x00")):
        return head.decode("utf-16-le", errors="replace").lstrip("\ufeff")
    if head.startswith((b"\xfe\xff", b"\x00<")):
        return head.decode("utf-16-be", errors="replace").lstrip("\ufeff")
    # latin-1 maps every byte to one char, so ASCII markup reads the same in any ASCII-compatible
    # encoding (UTF-8, ISO-8859-1, ...); a UTF-8 BOM becomes these three chars.
    text = head.decode("latin-1")
    return text[3:] if text.startswith("\xef\xbb\xbf") else text


def _doctype_end(text: str, start: int) -> int:
    """Index just past the ``<!DOCTYPE ...>`` at ``start``, or -1 if it does not end in ``text``."""
    j, n, in_subset = start + 9, len(text), False
    while j < n:
        c = text[j]
        if c == '"' or c == "'":
            k = text.find(c, j + 1)
            if k < 0:
                return -1
            j = k + 1
            continue
        if in_subset and text.startswith("<!--", j):
            k = text.find("-->", j + 4)
            if k < 0:
                return -1
            j = k + 3
            continue
        if c == "[":
            in_subset = True
        elif c == "]":
            in_subset = False
        elif c == ">" and not in_subset:
            return j + 1
        j += 1
    return -1


@dataclasses.dataclass(frozen=True, slots=True)
class Prolog:
    root: str | None  # the root element's name; None when the text is not XML or ran out
    doctype: str | None  # the whole <!DOCTYPE ...> declaration, when there is one
    complete: bool  # False when the text ended before the root element
    offset: int  # where the root element (or the first non-markup text) starts in the text
    doctype_offset: int = 0  # where the DOCTYPE starts


def scan_prolog(text: str) -> Prolog:
    """Skip whitespace, the XML declaration and other PIs, comments (license headers) and the
    DOCTYPE, and name the first element."""
    i, n, doctype, at = 0, len(text), None, 0
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return Prolog(None, doctype, False, i, at)
        if text.startswith("<?", i):
            j = text.find("?>", i + 2)
            if j < 0:
                return Prolog(None, doctype, False, i, at)
            i = j + 2
        elif text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            if j < 0:
                return Prolog(None, doctype, False, i, at)
            i = j + 3
        elif text.startswith("<!DOCTYPE", i):
            j, at = _doctype_end(text, i), i
            if j < 0:
                return Prolog(None, text[i:], False, i, at)
            doctype, i = text[i:j], j
        elif text.startswith("<", i):
            m = _XML_NAME.match(text, i + 1)
            return Prolog(m.group() if m else None, doctype, True, i, at)
        else:
            return Prolog(None, doctype, True, i, at)


def refuse_entities(data: bytes, source: str, what: str) -> tuple[Prolog, str]:
    """Raise UnsafeInputError when a DOCTYPE declares entities; return the prolog and its text.

    The check (defusedxml's forbid_entities) runs on the raw bytes before libxml2 sees them, so
    nothing is ever expanded or fetched: billion-laughs bombs and XXE
    (``<!ENTITY x SYSTEM "file:///etc/passwd">``) both need an ``<!ENTITY``.
    """
    head = data[:65536]
    text = decode_head(head)
    if "\x00" in text[:4]:
        # UTF-32 and friends: the scan below could not see a DOCTYPE in them
        raise ReportParseError(
            source,
            "not in an encoding gatekeeper reads (UTF-8, UTF-16 or an ASCII-based one)",
            line=1,
            hint="write the report as UTF-8",
        )
    prolog = scan_prolog(text)
    if not prolog.complete and len(head) < len(data):  # a prolog longer than 64 KiB: read it all
        text = decode_head(data)
        prolog = scan_prolog(text)
    # With a DOCTYPE, an "<!ENTITY" anywhere is refused: a scan this simple could be fooled
    # about where the DOCTYPE ends (a "]>" inside a processing instruction), the whole file not.
    if prolog.doctype is not None and "<!ENTITY" in (
        text if len(head) == len(data) else decode_head(data)
    ):
        line = text.count("\n", 0, prolog.doctype_offset) + 1
        raise UnsafeInputError(source, UNSAFE_PROBLEM, line=line, hint=unsafe_hint(what))
    return prolog, text


def check_prolog(data: bytes, source: str, what: str = "JUnit reports") -> tuple[Prolog, int]:
    """The prolog and the root element's line; refuses entity declarations and non-XML."""
    prolog, text = refuse_entities(data, source, what)
    line = text.count("\n", 0, prolog.offset) + 1
    if not prolog.complete and prolog.doctype is None:
        raise EmptyReportError(
            source,
            "no XML element in the file (only a declaration or comments)",
            line=line,
            hint="did the test step write its report?",
        )
    if prolog.complete and prolog.root is None:
        start = text[prolog.offset : prolog.offset + 40].split("\n", 1)[0]
        raise ReportParseError(
            source,
            f"not XML: the content starts with {start!r}, not with an element",
            line=line,
            hint="is this the report? check the path and the step that wrote it",
        )
    return prolog, line
