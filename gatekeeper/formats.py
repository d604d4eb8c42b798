"""The names of the input formats and the parser module of each: a leaf, so that the CLI can
list the formats in its help without importing the parsers or the model (`gatekeeper --help`
must stay fast)."""

from __future__ import annotations

# format name -> module (imported lazily by gatekeeper.parsers: --help must not pay for lxml)
PARSER_MODULES: dict[str, str] = {
    "junit": "gatekeeper.parsers.junit",
    "libtest": "gatekeeper.parsers.libtest",
    "libtest-json": "gatekeeper.parsers.libtest_json",
    "nextest": "gatekeeper.parsers.nextest",
    "cobertura": "gatekeeper.parsers.cobertura",
    "criterion": "gatekeeper.parsers.criterion",
    "criterion-json": "gatekeeper.parsers.criterion_json",
    "pytest-benchmark": "gatekeeper.parsers.pytest_benchmark",
    "google-benchmark": "gatekeeper.parsers.google_benchmark",
    "go-bench": "gatekeeper.parsers.go_bench",
    "gotest-json": "gatekeeper.parsers.gotest_json",
}

FORMATS: tuple[str, ...] = tuple(PARSER_MODULES)
