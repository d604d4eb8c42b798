"""The input formats: one module per format, and the dispatcher that detects and runs them.

Every parser module exposes the same three names (the contract):

- ``NAME: str``: the format's name on the command line (``--format NAME``).
- ``sniff(head: bytes) -> int``: how sure it is, 0 (not this format) to 100 (certain), from the
  first ``HEAD_BYTES`` bytes of a file (raw; may start with a UTF-8 BOM). Must never raise.
- ``parse(data: bytes, source: str) -> ParsedReport``: pure: bytes in, records out; ``source``
  is the file's path, used in messages (and, for Criterion's estimates.json, the benchmark
  name). Raises a ``gatekeeper.errors.InputError`` subclass on input it cannot use.

Adding a format adds a module and one line in ``gatekeeper.formats.PARSER_MODULES``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, cast

from gatekeeper.errors import EmptyReportError, UnknownFormatError
from gatekeeper.formats import FORMATS as FORMATS
from gatekeeper.formats import PARSER_MODULES

if TYPE_CHECKING:
    from gatekeeper.model import ParsedReport

HEAD_BYTES = 64 * 1024

# A head that starts with "<" is asked of the XML parsers first; the others are asked only if
# none of those recognises it. Sniffing text formats means scanning 64 KiB with regexes, which
# adds up over a backfill of thousands of XML files.
_XML_FORMATS = ("junit", "cobertura")


class Parser(Protocol):
    NAME: str

    def sniff(self, head: bytes) -> int: ...

    def parse(self, data: bytes, source: str) -> ParsedReport: ...


def parser_for(name: str) -> Parser:
    module: ModuleType = importlib.import_module(PARSER_MODULES[name])
    return cast(Parser, module)


def detect(head: bytes, source: str) -> str:
    """The format whose sniffer is surest of ``head``; an error naming the formats tried."""
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise EmptyReportError(
            source, "the file is empty", hint="did the test step write its report?"
        )
    order: tuple[tuple[str, ...], ...]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        order = (_XML_FORMATS, tuple(n for n in FORMATS if n not in _XML_FORMATS))
    else:
        order = (FORMATS,)
    best, best_score = "", 0
    for names in order:
        for name in names:
            score = parser_for(name).sniff(head)
            if score > best_score:
                best, best_score = name, score
        if best:
            break
    if not best and order[0] == _XML_FORMATS:
        _refuse_unknown_xml(head, source)
    if not best:
        raise UnknownFormatError(
            source,
            "not a report format gatekeeper reads (tried " + ", ".join(FORMATS) + ")",
            hint="pass --format NAME if you know it; see docs/formats/",
        )
    return best


def parse(data: bytes, source: str, fmt: str = "auto") -> ParsedReport:
    """Detect (unless ``fmt`` names one) and parse one report."""
    if fmt == "auto":
        fmt = detect(data[:HEAD_BYTES], source)
    elif fmt not in FORMATS:
        raise UnknownFormatError(
            source, f"unknown format {fmt!r}", hint="choose one of: auto, " + ", ".join(FORMATS)
        )
    elif not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise EmptyReportError(
            source, "the file is empty", hint="did the test step write its report?"
        )
    return parser_for(fmt).parse(data, source)


def _refuse_unknown_xml(head: bytes, source: str) -> None:
    """XML that no parser recognises: say what it is (hostile, or another kind of XML)."""
    from gatekeeper.parsers._xml import refuse_entities

    prolog, _ = refuse_entities(head, source, "test and coverage reports")
    if prolog.root:
        raise UnknownFormatError(
            source,
            f"XML with root element <{prolog.root}> is not a report format gatekeeper reads "
            "(JUnit has <testsuites> or <testsuite>, Cobertura <coverage>)",
            hint="point at the JUnit or Cobertura file, or pass --format NAME",
        )
