"""The sanitiser of human-facing output: what any text becomes (hypothesis) and examples."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from gatekeeper.emit import safe

HOSTILE = st.text(
    alphabet=st.sampled_from(list(":\n\r\t\x1b\x07\x9b\u202e\u00a0 `<>[]()|*_&\\ab")), max_size=40
) | st.text(max_size=40)


def _invisible(c: str) -> bool:
    return unicodedata.category(c) == "Cc" or c in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e"


@given(HOSTILE)
def test_a_line_holds_no_control_character_and_starts_no_command(text: str) -> None:
    out = safe.line(text)
    assert not any(_invisible(c) for c in out)
    assert not out.lstrip().startswith("::")


@given(HOSTILE)
def test_a_block_keeps_its_lines_and_none_starts_a_command(text: str) -> None:
    out = safe.block(text)
    assert out.count("\n") == text.count("\n")
    assert not any(_invisible(c) and c != "\n" for c in out)
    assert not any(one.lstrip().startswith("::") for one in out.split("\n"))


@given(HOSTILE)
def test_markdown_text_has_no_tag_no_link_no_code_and_one_line(text: str) -> None:
    out = safe.md_text(text)
    assert "\n" not in out and "<" not in out and ">" not in out
    # every Markdown punctuation character is escaped: an odd run of backslashes before it
    for m in re.finditer(r"(\\*)([`*_\[\]|~#!])", out):
        assert len(m.group(1)) % 2 == 1, (text, out)


@given(HOSTILE)
def test_a_code_span_is_never_closed_early(text: str) -> None:
    out = safe.md_code(text)
    fence = re.match("`+", out)
    assert fence is not None
    inner = out[len(fence.group()) : -len(fence.group())]
    assert out.endswith(fence.group())
    assert fence.group() not in inner  # a run as long as the fence would close it
    assert "\n" not in out


def test_examples() -> None:
    assert safe.line("TestNL\n::warning::INJECTED") == "TestNL\\n::warning::INJECTED"
    assert safe.line("::warning::x") == "\\x3a:warning::x"
    assert safe.line("\u00a0::error::x") == "\u00a0\\x3a:error::x"  # the runner trims NBSP
    assert safe.line("a\x1b]0;t\x07\x1b[2J") == "a\\x1b]0;t\\x07\\x1b[2J"
    assert safe.line("bidi\u202eevil") == "bidi\\u202eevil"
    assert safe.defuse("ok\n  ::error::x") == "ok\n  \\x3a:error::x"
    assert safe.md_text("<img src=x> [l](u)") == "&lt;img src=x&gt; \\[l\\](u)"
    assert safe.md_code("a`b") == "``a`b``"
    assert safe.md_code("`x") == "`` `x ``"
    assert safe.md_code("a|b") == "`a\\|b`"
