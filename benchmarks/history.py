"""Long synthetic CI histories at a chosen size, written straight into a store (or as JUnit files).

    python benchmarks/history.py --results 1000000 --db sqlite:///long.db
    python benchmarks/history.py --results 500000 --db postgresql://127.0.0.1/test
    python benchmarks/history.py --results 500000 --junit backfill/   # files + manifest.jsonl

A history is rounds of CI: every ``24h / runs_per_day`` one commit on the default branch, and one
run per service on it (every tenth round a feature branch's commit instead). Each run executes
every test of its service: most pass, a share are flaky (a per-test failure rate), a share are
hit by regressions (failing on every execution for a few rounds, some still failing at the
end), a few are always skipped, and now and then a run is degraded (an infrastructure burst
fails a third of the service's tests with one message). A failed run is sometimes re-run as
attempt 2. The history ends at ``--end`` (now, by default), so ``report --since 7d`` sees a week.

Each round is drawn from its own seed, counted back from the end: the history of N days is
exactly the last N days of a longer one with the same seed and tests. That is what the scaling
runs compare (``benchmarks/scale.py``): the same tests, the same last weeks, twice the past.

Runs are written through the store's own bulk path (``HistoryStore.save_runs``) in batches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import quoteattr

from gatekeeper import model

FLAKY_MSG = "AssertionError: assert {n} == 42"
BROKEN_MSG = "AssertionError: expected status 200, got 500"
BURST_MSG = "psycopg.OperationalError: connection to server at 10.0.3.{n}:5432 refused"


@dataclass(frozen=True, slots=True)
class Shape:
    """The knobs of one history."""

    services: int = 6
    tests: int = 150  # per service
    runs_per_day: int = 20  # rounds a day: each is one run per service
    days: float = 28.0
    flaky_share: float = 0.04
    broken_share: float = 0.01  # tests hit by a regression, somewhere in a 30-day stretch
    skipped_share: float = 0.02
    burst_prob: float = 0.01  # per run
    retry_prob: float = 0.3  # a failed run is re-run as attempt 2
    branch_every: int = 10  # every n-th round is a feature branch's commit
    seed: int = 7
    end: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    @property
    def rounds(self) -> int:
        return max(1, round(self.days * self.runs_per_day))

    def for_results(self, results: int) -> Shape:
        """The same shape, as many days as ``results`` executions need (about)."""
        per_day = self.services * self.tests * self.runs_per_day
        days = results / per_day
        return replace(self, days=days)


@dataclass(frozen=True, slots=True)
class _Test:
    suite: str
    name: str
    kind: str  # "stable", "flaky", "broken", "skipped"
    rate: float  # flaky: failure rate
    period: int  # broken: a regression starts every `period` rounds (counted from the end) ...
    length: int  # ... and lasts `length` rounds
    offset: int

    @property
    def test_id(self) -> str:
        return model.make_test_id(self.suite, self.name)


def _tests(shape: Shape, service: int) -> list[_Test]:
    rng = random.Random(f"{shape.seed}-tests-{service}")
    out = []
    period = 30 * shape.runs_per_day
    for i in range(shape.tests):
        u = rng.random()
        suite = f"tests.svc{service}.test_module_{i // 25:03d}"
        name = f"test_case_{i:05d}"
        if u < shape.flaky_share:
            rate = math.exp(rng.uniform(math.log(0.01), math.log(0.3)))
            out.append(_Test(suite, name, "flaky", rate, 0, 0, 0))
        elif u < shape.flaky_share + shape.broken_share:
            out.append(
                _Test(suite, name, "broken", 0.0, period, rng.randint(1, 8), rng.randrange(period))
            )
        elif u < shape.flaky_share + shape.broken_share + shape.skipped_share:
            out.append(_Test(suite, name, "skipped", 0.0, 0, 0, 0))
        else:
            out.append(_Test(suite, name, "stable", 0.0, 0, 0, 0))
    return out


def _sha(*parts: object) -> str:
    return hashlib.sha1("-".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def generate(shape: Shape) -> Iterator[model.Run]:
    """The history's runs in time order (oldest first)."""
    suites = [_tests(shape, s) for s in range(shape.services)]
    step = timedelta(days=1) / shape.runs_per_day
    source = model.SourceFile("junit.xml", "junit", "0" * 64, 0)
    for back in range(shape.rounds - 1, -1, -1):  # rounds counted back from the end
        at = shape.end - step * (back + 1)
        branch = "main" if back % shape.branch_every else f"feature/f{back}"
        commit = _sha(shape.seed, "commit", back)
        for s, tests in enumerate(suites):
            rng = random.Random(f"{shape.seed}-{back}-{s}")
            service = f"service-{s:02d}"
            burst = rng.random() < shape.burst_prob
            for attempt in (1, 2):
                results = []
                failed = False
                for t in tests:
                    outcome = model.Outcome.PASSED
                    message = None
                    if t.kind == "skipped":
                        outcome = model.Outcome.SKIPPED
                    elif t.kind == "broken" and (back + t.offset) % t.period < t.length:
                        outcome, message = model.Outcome.FAILED, BROKEN_MSG
                    elif t.kind == "flaky" and rng.random() < t.rate:
                        outcome, message = (
                            model.Outcome.FAILED,
                            FLAKY_MSG.format(n=rng.randrange(9)),
                        )
                    elif burst and rng.random() < 0.33:
                        outcome, message = model.Outcome.ERROR, BURST_MSG.format(n=s)
                    failed = failed or outcome.is_failure
                    results.append(
                        model.TestResult(
                            t.test_id,
                            t.suite,
                            t.name,
                            outcome,
                            round(rng.uniform(0.001, 0.3), 3),
                            message,
                        )
                    )
                meta = model.RunMeta(
                    service, f"{service}-{shape.rounds - back}", attempt, commit, branch,
                    at + timedelta(minutes=attempt * 10), "github", None,
                )  # fmt: skip
                yield model.Run(meta, (source,), tuple(results))
                if not (failed and rng.random() < shape.retry_prob):
                    break
                burst = burst and rng.random() < 0.5


def write_store(shape: Shape, url: str, *, batch: int = 200) -> int:
    """Write the history into the store at ``url`` (created when missing); the results count."""
    from gatekeeper.store.history import open_store

    count = 0
    with open_store(url) as store:
        pending: list[model.Run] = []
        for run in generate(shape):
            pending.append(run)
            count += len(run.tests)
            if len(pending) >= batch:
                store.save_runs(pending)
                pending = []
        if pending:
            store.save_runs(pending)
    return count


def write_junit(shape: Shape, folder: Path) -> int:
    """Write the history as one JUnit file per run plus ``manifest.jsonl``; the results count."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with (folder / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
        for run in generate(shape):
            m = run.meta
            name = f"{m.run_id}-{m.attempt}.xml"
            count += len(run.tests)
            parts = ['<?xml version="1.0" encoding="utf-8"?>', "<testsuites>"]
            parts.append(f"<testsuite name={quoteattr(m.service)}>")
            for r in run.tests:
                names = f"classname={quoteattr(r.suite)} name={quoteattr(r.name)}"
                head = f'<testcase {names} time="{r.duration}"'
                if r.outcome is model.Outcome.PASSED:
                    parts.append(head + "/>")
                elif r.outcome is model.Outcome.SKIPPED:
                    parts.append(head + "><skipped/></testcase>")
                else:
                    tag = "failure" if r.outcome is model.Outcome.FAILED else "error"
                    parts.append(f"{head}><{tag} message={quoteattr(r.message or '')}/></testcase>")
            parts.append("</testsuite></testsuites>\n")
            (folder / name).write_text("\n".join(parts), encoding="utf-8")
            assert m.timestamp is not None
            line = {
                "path": name, "service": m.service, "commit": m.commit, "branch": m.branch,
                "run_id": m.run_id, "attempt": m.attempt,
                "timestamp": m.timestamp.isoformat().replace("+00:00", "Z"),
            }  # fmt: skip
            manifest.write(json.dumps(line) + "\n")
    return count


_D = Shape()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, required=True, help="about this many results")
    parser.add_argument("--db", help="store URL to write into")
    parser.add_argument("--junit", type=Path, help="folder for JUnit files and manifest.jsonl")
    parser.add_argument("--services", type=int, default=_D.services)
    parser.add_argument("--tests", type=int, default=_D.tests, help="tests per service")
    parser.add_argument("--runs-per-day", type=int, default=_D.runs_per_day)
    parser.add_argument("--flaky-share", type=float, default=_D.flaky_share)
    parser.add_argument("--broken-share", type=float, default=_D.broken_share)
    parser.add_argument("--seed", type=int, default=_D.seed)
    parser.add_argument(
        "--end", help="when the history ends (ISO 8601; default: now, to the minute)"
    )
    args = parser.parse_args(argv)
    if not args.db and not args.junit:
        parser.error("give --db, --junit or both")
    end = (
        datetime.fromisoformat(args.end.replace("Z", "+00:00"))
        if args.end
        else datetime.now(UTC).replace(second=0, microsecond=0)
    )
    shape = Shape(
        services=args.services, tests=args.tests, runs_per_day=args.runs_per_day,
        flaky_share=args.flaky_share, broken_share=args.broken_share, seed=args.seed, end=end,
    ).for_results(args.results)  # fmt: skip
    start = time.perf_counter()
    if args.db:
        n = write_store(shape, args.db)
        print(f"{args.db}: {n:,} results, {shape.days:.1f} days", file=sys.stderr)
    if args.junit:
        n = write_junit(shape, args.junit)
        print(f"{args.junit}: {n:,} results as JUnit files", file=sys.stderr)
    print(f"{time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
