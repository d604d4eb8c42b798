"""Every way a registry can be wrong, with its exact message: file, line, field, what to do.

The messages are the contract with the person who edits the file; docs/registry.md lists them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from gatekeeper import registry
from gatekeeper.errors import ConfigError, RegistryError

from ..conftest import ROOT

# An entry that is right in every way, to put a wrong one after.
GOOD = """\
  - name: a::ok
    service: s
    reason: fine
"""


def entry(body: str) -> str:
    """``flaky_tests:`` with one good entry, then ``body`` (an entry, indented as written)."""
    return "flaky_tests:\n" + GOOD + textwrap.indent(textwrap.dedent(body), "  ")


CASES = [
    (
        # The example from the issue: the 14th line, the third entry.
        "bad-month",
        "flaky_tests:\n" + GOOD * 2 + "  - name: c\n    service: s\n    reason: r\n"
        "    quarantined: true\n    issue: '#3'\n    owner: me\n    expires: 2026-13-01\n",
        "flaky-tests.yml:14: flaky_tests[2].expires: '2026-13-01' is not a date (write YYYY-MM-DD)",
    ),
    (
        "day-after-february",
        entry("- name: b\n  service: s\n  reason: r\n  expires: '2026-02-30'\n"),
        "flaky-tests.yml:8: flaky_tests[1].expires: '2026-02-30' is not a date (write YYYY-MM-DD)",
    ),
    (
        "date-with-time",
        entry("- name: b\n  service: s\n  reason: r\n  expires: 2026-02-01T10:00:00\n"),
        "flaky-tests.yml:8: flaky_tests[1].expires: '2026-02-01T10:00:00' is not a date "
        "(write YYYY-MM-DD)",
    ),
    (
        "date-as-number",
        entry("- name: b\n  service: s\n  reason: r\n  expires: 20260201\n"),
        "flaky-tests.yml:8: flaky_tests[1].expires: 20260201 is not a date (write YYYY-MM-DD)",
    ),
    (
        "short-date",
        entry("- name: b\n  service: s\n  reason: r\n  expires: 2026-2-1\n"),
        "flaky-tests.yml:8: flaky_tests[1].expires: '2026-2-1' is not a date (write YYYY-MM-DD)",
    ),
    (
        "missing-reason",
        entry("- name: b\n  service: s\n"),
        "flaky-tests.yml:5: flaky_tests[1].reason: missing (say why the test is quarantined)",
    ),
    (
        "missing-name",
        entry("- service: s\n  reason: r\n"),
        "flaky-tests.yml:5: flaky_tests[1].name: missing "
        "(the test id, as `gatekeeper quarantine list` shows it)",
    ),
    (
        "missing-service",
        entry("- name: b\n  reason: r\n"),
        "flaky-tests.yml:5: flaky_tests[1].service: missing "
        "(the service whose runs the test is in, as given to --service)",
    ),
    (
        "empty-reason",
        entry("- name: b\n  service: s\n  reason: ''\n"),
        "flaky-tests.yml:7: flaky_tests[1].reason: must not be empty",
    ),
    (
        "null-name",
        entry("- name:\n  service: s\n  reason: r\n"),
        "flaky-tests.yml:5: flaky_tests[1].name: must be text, not empty",
    ),
    (
        "yes-no-boolean",
        entry("- name: b\n  service: s\n  reason: r\n  quarantined: maybe\n"),
        "flaky-tests.yml:8: flaky_tests[1].quarantined: must be true or false, not 'maybe'",
    ),
    (
        "name-read-as-boolean",
        entry("- name: on\n  service: s\n  reason: r\n"),
        "flaky-tests.yml:5: flaky_tests[1].name: must be text, not true (put it in quotes: "
        "YAML reads yes/no/on/off as true/false and digits as numbers)",
    ),
    (
        "service-read-as-number",
        entry("- name: b\n  service: 1.10\n  reason: r\n"),
        "flaky-tests.yml:6: flaky_tests[1].service: must be text, not 1.1 (put it in quotes: "
        "YAML reads yes/no/on/off as true/false and digits as numbers)",
    ),
    (
        "issue-list",
        entry("- name: b\n  service: s\n  reason: r\n  issue: [12, 13]\n"),
        "flaky-tests.yml:8: flaky_tests[1].issue: must be text or a whole number, not a list",
    ),
    (
        "misspelt-verdict",
        entry("- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flakey\n"),
        "flaky-tests.yml:9: flaky_tests[1].evidence.verdict: 'flakey' is not one of: stable, "
        "flaky, broken, healed, insufficient-data",
    ),
    (
        "evidence-without-verdict",
        entry("- name: b\n  service: s\n  reason: r\n  evidence:\n    runs: 3\n"),
        "flaky-tests.yml:9: flaky_tests[1].evidence.verdict: missing (`gatekeeper classify` "
        "writes the evidence; delete the block to let it rewrite it)",
    ),
    (
        "evidence-not-a-mapping",
        entry("- name: b\n  service: s\n  reason: r\n  evidence: flaky\n"),
        "flaky-tests.yml:8: flaky_tests[1].evidence: must be a mapping, not 'flaky'",
    ),
    (
        "rate-above-one",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n"
            "    failure_rate: 1.5\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.failure_rate: 1.5 is not between 0 and 1",
    ),
    (
        "rate-not-a-number",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n"
            "    confidence: .nan\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.confidence: nan is not between 0 and 1",
    ),
    (
        "negative-count",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n    runs: -3\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.runs: must be at least 0, not -3",
    ),
    (
        "fractional-count",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n"
            "    flips: 2.5\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.flips: must be a whole number, not 2.5",
    ),
    (
        "interval-of-one",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n"
            "    failure_rate_ci95: [0.1]\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.failure_rate_ci95: must be two numbers "
        "[low, high], not 1",
    ),
    (
        "interval-upside-down",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n"
            "    failure_rate_ci95: [0.3, 0.1]\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.failure_rate_ci95: [0.3, 0.1] is not "
        "[low, high] (the low end comes first)",
    ),
    (
        "failure-date",
        entry(
            "- name: b\n  service: s\n  reason: r\n  evidence:\n    verdict: flaky\n"
            "    last_failure: {commit: abc, date: yesterday}\n"
        ),
        "flaky-tests.yml:10: flaky_tests[1].evidence.last_failure.date: 'yesterday' is not a "
        "date (write YYYY-MM-DD)",
    ),
    (
        "entry-not-a-mapping",
        "flaky_tests:\n  - messaging_service::tests::x\n",
        "flaky-tests.yml:2: flaky_tests[0]: must be a mapping, not 'messaging_service::tests::x'",
    ),
    (
        "list-not-a-list",
        "flaky_tests:\n  name: a\n  service: s\n",
        "flaky-tests.yml:2: flaky_tests: must be a list, not a mapping",
    ),
    (
        "top-level-list",
        "- name: a\n  service: s\n  reason: r\n",
        "flaky-tests.yml:1: the top level must be a mapping (start the file with `flaky_tests:`)",
    ),
    (
        "no-flaky-tests-key",
        "# our flaky tests\nflaky: []\n",
        "flaky-tests.yml:2: flaky_tests: missing "
        "(the file holds `flaky_tests:` followed by a list of entries)",
    ),
    (
        "same-test-twice",
        "flaky_tests:\n" + GOOD + "  - name: b\n    service: s\n    reason: r\n" + GOOD,
        "flaky-tests.yml:8: flaky_tests[2]: the same test and service are listed again "
        "(first on line 2) (keep one entry per test and service)",
    ),
    (
        "same-key-twice",
        entry("- name: b\n  service: s\n  reason: r\n  reason: again\n"),
        "flaky-tests.yml:8: flaky_tests[1].reason: duplicate key, first on line 7 "
        "(keep one; YAML would silently use the last)",
    ),
    (
        "anchor",
        entry("- name: b\n  service: &svc s\n  reason: r\n"),
        "flaky-tests.yml:6: flaky_tests[1].service: the YAML anchor &svc is not allowed in the "
        "registry (write each value out in full; anchors and aliases can hide huge values)",
    ),
    (
        "alias",
        entry("- name: b\n  service: *svc\n  reason: r\n"),
        "flaky-tests.yml:6: flaky_tests[1].service: the YAML alias *svc is not allowed in the "
        "registry (write the value out in full; anchors and aliases can hide huge values)",
    ),
    (
        "merge-key",
        entry("- <<: {service: s, reason: r}\n  name: b\n"),
        "flaky-tests.yml:5: flaky_tests[1]: merge keys (<<) are not allowed in the registry "
        "(write the keys out in each entry)",
    ),
    (
        "python-object",
        entry("- name: !!python/object/apply:os.system ['echo pwned']\n  service: s\n"),
        "flaky-tests.yml:5: flaky_tests[1].name: the YAML tag !!python/object/apply:os.system "
        "is not allowed in the registry (it holds plain text, numbers, true/false, dates, lists "
        "and mappings)",
    ),
    (
        "python-name-scalar",
        entry("- name: b\n  service: s\n  reason: !!python/name:os.system ''\n"),
        "flaky-tests.yml:7: flaky_tests[1].reason: the YAML tag !!python/name:os.system is not "
        "allowed in the registry (it holds plain text, numbers, true/false, dates, lists and "
        "mappings)",
    ),
    (
        "set-tag",
        entry("- name: b\n  service: s\n  reason: r\n  labels: !!set {a, b}\n"),
        "flaky-tests.yml:8: flaky_tests[1].labels: the YAML tag !!set is not allowed in the "
        "registry (it holds plain text, numbers, true/false, dates, lists and mappings)",
    ),
    (
        "bad-explicit-int",
        entry("- name: b\n  service: s\n  reason: r\n  issue: !!int twelve\n"),
        "flaky-tests.yml:8: flaky_tests[1].issue: 'twelve' is not a valid !!int",
    ),
    (
        "list-as-key",
        entry("- name: b\n  service: s\n  reason: r\n  ? [a, b]\n  : c\n"),
        "flaky-tests.yml:8: flaky_tests[1]: a key must be a plain value, not a list",
    ),
    (
        "two-documents",
        "flaky_tests: []\n---\nflaky_tests: []\n",
        "flaky-tests.yml:2: the file holds more than one YAML document "
        "(keep one document: remove the `---` line and what follows)",
    ),
    (
        "control-character",
        "flaky_tests:\n  - name: a\n    service: s\n    reason: bell \a here\n",
        "flaky-tests.yml:4: the file contains the character U+0007, which YAML does not allow "
        "(remove it, or write it as an escape in a double-quoted string)",
    ),
]


# YAML syntax errors: the file, the lines and the hint are ours; the words between are the YAML
# library's, which change between its releases, so they are only required to be there.
YAML_SYNTAX = [
    (
        "unclosed-list",
        "flaky_tests:\n  - name: a\n    service: s\n    reason: r\n    tags: [x, y\n",
        6,
        5,
    ),
    ("bad-indentation", "flaky_tests:\n  - name: a\n    service: s\n   reason: r\n", 4, 2),
]


@pytest.mark.parametrize(
    ("text", "line", "context"), [c[1:] for c in YAML_SYNTAX], ids=[c[0] for c in YAML_SYNTAX]
)
def test_invalid_registry_syntax(text: str, line: int, context: int) -> None:
    with pytest.raises(RegistryError) as info:
        registry.parse(text, "flaky-tests.yml")
    message = str(info.value)
    prefix = f"flaky-tests.yml:{line}: not valid YAML: "
    hint = " (check the indentation, the colons and the quotes)"
    assert message.startswith(prefix) and message.endswith(hint), message
    assert f"on line {context})" in message, message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_registry_message(text: str, message: str) -> None:
    with pytest.raises(RegistryError) as info:
        registry.parse(text, "flaky-tests.yml")
    assert str(info.value) == message
    assert isinstance(info.value, ConfigError)  # the CLI's "could not decide": exit code 2
    assert info.value.exit_code == 2


def test_not_utf8_names_the_line() -> None:
    data = "flaky_tests:\n  - name: caf\u00e9\n".encode("latin-1")
    with pytest.raises(RegistryError) as info:
        registry.parse(data, "flaky-tests.yml")
    assert str(info.value) == "flaky-tests.yml:2: not UTF-8 text (save the file as UTF-8)"


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
flaky_tests:
  - name: *i
    service: s
    reason: r
"""


def test_billion_laughs_is_refused_at_the_first_anchor() -> None:
    with pytest.raises(RegistryError) as info:
        registry.parse(BILLION_LAUGHS, "flaky-tests.yml")
    assert str(info.value) == (
        "flaky-tests.yml:1: a: the YAML anchor &a is not allowed in the registry "
        "(write each value out in full; anchors and aliases can hide huge values)"
    )


def test_an_alias_bomb_without_its_anchors_is_refused_too() -> None:
    # Only the aliases left (the anchors cut away): the first alias stops the read.
    text = re.sub(r"&\w+ ", "", BILLION_LAUGHS)
    with pytest.raises(RegistryError) as info:
        registry.parse(text, "flaky-tests.yml")
    assert str(info.value).startswith(
        "flaky-tests.yml:2: b[0]: the YAML alias *a is not allowed in the registry"
    )


def test_deep_nesting_is_refused_without_crashing_the_interpreter() -> None:
    # PyYAML's C composer recurses per level: ~100,000 levels crash the process (SIGSEGV),
    # which no except clause catches. Run it in a child so a crash fails this test cleanly.
    depth = 200_000
    code = (
        "from gatekeeper import registry\n"
        "from gatekeeper.errors import RegistryError\n"
        f"text = 'flaky_tests: []\\nx: ' + '[' * {depth} + ']' * {depth}\n"
        "try:\n"
        "    registry.parse(text, 'flaky-tests.yml')\n"
        "except RegistryError as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == (
        "flaky-tests.yml:2: x[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
        "[0][0][0][0][0][0][0][0][0][0]: nested more than 32 levels deep (the registry is a "
        "list of entries with a few fields each)"
    )
