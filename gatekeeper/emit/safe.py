"""Data shown to people, made harmless: the one sanitiser of every human-facing output.

Test names, messages, service names, branches and paths are data from reports and uploads.
In terminal output and CI logs they must not move the cursor, retitle the window, clear the
screen (ESC sequences), forge lines (a newline) or start a GitHub workflow command (a line
that starts with ``::``, leading blanks allowed); in Markdown they must not close a code span,
open HTML or make a link. Machine output (JSON, skip lists) keeps the data as it is.
"""

from __future__ import annotations

import re

# C0 and C1 controls (newline and tab included), DEL, and the invisible characters that
# reorder or hide text (bidi overrides and isolates, line/paragraph separators).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The GitHub runner trims a line's leading (Unicode) whitespace, then reads "::" as a command.
_COMMAND = re.compile(r"^(\s*):")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")  # CommonMark lets any ASCII punctuation be escaped


def _escaped(match: re.Match[str]) -> str:
    c = match.group()
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def line(text: str) -> str:
    """``text`` for one line of terminal output: every control character shown escaped
    (``\\n``, ``\\x1b``, ``\\x07``, ``\\u202e``), and a leading ``::`` defused (``\\x3a:``)."""
    return defuse(_CONTROL.sub(_escaped, text))


def block(text: str) -> str:
    """``text`` that may span lines (a failure message): controls escaped but newlines kept,
    and no line of it starting a workflow command."""
    return defuse(_CONTROL_BUT_NEWLINE.sub(_escaped, text))


def defuse(text: str) -> str:
    """Every line of ``text`` that would start a GitHub workflow command (``::`` after any
    whitespace) starts with ``\\x3a:`` instead: a log shows it, the runner does not run it."""
    if "::" not in text:
        return text
    return "\n".join(
        _COMMAND.sub(r"\1\\x3a", one, count=1) if one.lstrip().startswith("::") else one
        for one in text.split("\n")
    )


def md_text(text: str) -> str:
    """``text`` as literal Markdown on one line (a table cell, a list item, a heading): HTML
    and Markdown syntax escaped, controls escaped, newlines shown as ``\\n``."""
    flat = _CONTROL.sub(_escaped, text)
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_code(text: str) -> str:
    """``text`` as a Markdown code span (in a table cell too): fenced with more backticks than
    it holds, so a backtick cannot close it; controls escaped; pipes escaped for tables."""
    flat = _CONTROL.sub(_escaped, text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
