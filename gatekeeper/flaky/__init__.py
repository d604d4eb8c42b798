"""Flaky-test classification: history in, a verdict with evidence per test out (docs/statistics.md).

The only package that imports scipy; it imports ``gatekeeper.model`` and ``gatekeeper.errors``
of ours and does no I/O.
"""

from gatekeeper.flaky.classifier import TestKey, classify
from gatekeeper.flaky.config import ClassifierConfig
from gatekeeper.flaky.policy import mass_quarantines, registry_updates

__all__ = ["ClassifierConfig", "TestKey", "classify", "mass_quarantines", "registry_updates"]
