"""gatekeeper: a quality gate for CI (tests, coverage, benchmarks, flaky-test quarantine)."""

__version__ = "0.1.0"
