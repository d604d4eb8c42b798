"""ClassifierConfig: every knob of the flaky-test classifier, with its documented default."""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ClassifierConfig:
    """The classifier's settings; docs/statistics.md explains each default and why."""

    #: History that defines "the code as it is": runs on this branch (and runs with no branch).
    default_branch: str = "main"
    #: Also use commits of other branches on which the test both passed and failed (re-runs,
    #: retries): a pass and a fail on one commit are evidence wherever they happen.
    same_commit_any_branch: bool = True
    #: Only the most recent commits of each test's history count (0: all of it).
    window: int = 300
    #: Fewer executions than this and no same-commit pass+fail: insufficient-data.
    min_runs: int = 8
    #: Prior probability that a stretch of a test's history is flaky (else it is deterministic).
    flaky_prior: float = 0.05
    #: Prior probability that a test's behaviour changes between two consecutive commits.
    change_prior: float = 0.01
    #: Posterior probability of flakiness needed to call a test that is not quarantined flaky.
    enter_confidence: float = 0.95
    #: A quarantined test heals when P(no failure in its passes since | old rate) < this.
    heal_alpha: float = 0.05
    #: The old failure rate assumed for a quarantined test with no failure in the window.
    heal_reference_rate: float = 0.05
    #: A stable verdict's confidence is P(current failure rate < this).
    stable_rate: float = 0.05
    #: Prior probability that a run attempt's environment fails tests (an outage, a burst, a
    #: co-failure): the common-cause model's prior odds against a degraded attempt.
    common_cause_prior: float = 0.02
    #: The same, for an attempt next to a degraded one: the service's attempt just before or
    #: after it, or another service's attempt of the same commit (outages span them).
    neighbour_prior: float = 0.2

    def __post_init__(self) -> None:
        for name, low, high, ends in _BOUNDS:
            value = getattr(self, name)
            inside = (low < value < high) if ends == "()" else (low < value <= high)
            if not inside:
                shown = f"{ends[0]}{low}, {high}{ends[1]}"
                raise ConfigError(
                    f"classifier setting {name}={value!r}: must be in {shown}",
                    hint="the defaults and their meaning are in docs/statistics.md",
                )
        for name in ("window", "min_runs"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"classifier setting {name}={getattr(self, name)!r}: must not be negative",
                    hint="the defaults and their meaning are in docs/statistics.md",
                )


# (setting, low, high, "()" open or "(]" half-open)
_BOUNDS = (
    ("flaky_prior", 0.0, 1.0, "()"),
    ("change_prior", 0.0, 1.0, "()"),
    ("heal_alpha", 0.0, 1.0, "()"),
    ("common_cause_prior", 0.0, 1.0, "()"),
    ("neighbour_prior", 0.0, 1.0, "()"),
    ("enter_confidence", 0.0, 1.0, "(]"),
    ("heal_reference_rate", 0.0, 1.0, "(]"),
    ("stable_rate", 0.0, 1.0, "(]"),
)
