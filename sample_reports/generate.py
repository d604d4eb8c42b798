#!/usr/bin/env python3
"""Writes sample_reports/: a deterministic CI history of three services, and bad inputs."""

# Everything beside this script (except the script itself) is its output. It uses only the
# standard library, a seeded random.Random per purpose and fixed dates, so running it again
# rewrites byte-identical files. Each report copies the exact shape of what the real tool writes
# (see ../shared/realworld); README.md, also written here, tells the stories hidden in the data.

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import math
import random
import re
import shutil
import statistics
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = "gatekeeper-sample-history-v1"
N_MAIN = 30
N_NEXT = N_MAIN + 1  # the next push to main: written to next/, gated by the demo, not history
WORK = "/home/runner/work/platform/platform/services"
SERVICES = ("user-service", "messaging-service", "search-service")
NEXT = "next"  # the folder of the next push (not in the manifest)
REPOSITORY = "repository"  # the monorepo's paths and CODEOWNERS, for the owners of tests
OUTPUTS = (*SERVICES, "invalid", NEXT, REPOSITORY, "manifest.jsonl", "README.md")
MAX_BYTES = 5_000_000


def rng(*parts: object) -> random.Random:
    """A generator per purpose, so adding a test or a file never reshuffles the others."""
    return random.Random(":".join([SEED, *map(str, parts)]))


def sha1(*parts: object) -> str:
    return hashlib.sha1(":".join([SEED, *map(str, parts)]).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The calendar: 30 pushes to main over two working weeks, PR pushes between them, two re-runs
# ---------------------------------------------------------------------------------------------

FIRST_DAY = date(2026, 11, 6)  # a Friday; the last push is on Friday 20 November 2026
PUSHES_PER_DAY = (2, 3, 3, 3, 3, 2, 3, 3, 3, 3, 2)  # the 11 weekdays, 30 pushes
RUN_ID_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
# the next push: Monday 23 November 2026, the first working day after the history ends
NEXT_PUSH = datetime(2026, 11, 23, 9, 38, tzinfo=UTC)
NEXT_MESSAGE = "fix: return 404 for missing users"

# service -> [(main run it followed, PR short name, branch)]
PULL_REQUESTS: dict[str, list[tuple[int, str, str]]] = {
    "user-service": [(23, "request-id-header", "feat/request-id-header")],
    "messaging-service": [(8, "batch-ack", "feat/batch-ack")],
    "search-service": [(24, "synonyms", "feat/synonyms")],
}
# service -> main runs that somebody re-ran (GitHub "Re-run jobs": same run id, attempt 2)
RERUNS: dict[str, list[int]] = {
    "user-service": [22],
    "messaging-service": [17],
    "search-service": [7],
}


@dataclass(frozen=True)
class Run:
    """One CI job of one service: a folder of reports and a group of manifest lines."""

    service: str
    n: int  # the main run number; for a PR run, the main run its branch was based on
    folder: str
    branch: str
    commit: str
    run_id: str
    attempt: int
    start: datetime
    pr: str = ""

    @property
    def era(self) -> str:
        """messaging-service's nightly toolchain was bumped at run 20 (libtest output changed)."""
        return "new" if self.n >= 20 else "old"


def main_push_times() -> list[datetime]:
    r = rng("calendar")
    weekdays = [FIRST_DAY + timedelta(days=i) for i in range(15)]
    weekdays = [d for d in weekdays if d.weekday() < 5]
    assert len(weekdays) == len(PUSHES_PER_DAY)
    times: list[datetime] = []
    for day, k in zip(weekdays, PUSHES_PER_DAY, strict=True):
        while True:  # k pushes between 08:30 and 18:30 UTC, at least 100 minutes apart
            minutes = sorted(r.randrange(0, 600) for _ in range(k))
            if all(b - a >= 100 for a, b in itertools.pairwise(minutes)):
                break
        base = datetime(day.year, day.month, day.day, 8, 30, tzinfo=UTC)
        times += [base + timedelta(minutes=m, seconds=r.randrange(60)) for m in minutes]
    assert len(times) == N_MAIN
    return times


def run_id_for(start: datetime, service_index: int) -> str:
    # GitHub Actions run ids: big, increasing, unique per workflow run (one workflow per service)
    return str(18_400_000_000 + int((start - RUN_ID_EPOCH).total_seconds()) * 4 + service_index)


def build_runs() -> list[Run]:
    pushes = main_push_times()
    runs: list[Run] = []
    for si, svc in enumerate(SERVICES):
        r = rng("jobs", svc)
        for n in range(1, N_MAIN + 1):
            start = pushes[n - 1] + timedelta(seconds=r.randrange(50, 260))
            run_id = run_id_for(start, si)
            commit = sha1("commit", "main", n)
            runs.append(Run(svc, n, f"run-{n:02d}", "main", commit, run_id, 1, start))
            if n in RERUNS[svc]:
                again = start + timedelta(minutes=r.randrange(30, 55), seconds=r.randrange(60))
                folder = f"run-{n:02d}-attempt-2"
                runs.append(Run(svc, n, folder, "main", commit, run_id, 2, again))
        for after, name, branch in PULL_REQUESTS[svc]:
            gap = pushes[after] - pushes[after - 1]
            start = pushes[after - 1] + timedelta(seconds=int(gap.total_seconds() * 0.45))
            folder = f"run-{after:02d}-pr-{name}"
            commit = sha1("commit", branch)
            runs.append(
                Run(svc, after, folder, branch, commit, run_id_for(start, si), 1, start, name)
            )
    runs.sort(key=lambda x: (SERVICES.index(x.service), x.start))
    return runs


def next_run() -> Run:
    """The next push to main after the history: only user-service's job, gated by the demo."""
    r = rng("jobs-next", "user-service")
    push = NEXT_PUSH + timedelta(seconds=r.randrange(60))
    start = push + timedelta(seconds=r.randrange(50, 260))
    run_id = run_id_for(start, SERVICES.index("user-service"))
    commit = sha1("commit", "main", N_NEXT)
    return Run("user-service", N_NEXT, f"run-{N_NEXT}", "main", commit, run_id, 1, start)


# ---------------------------------------------------------------------------------------------
# Tests, and what happens to them
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """What one failed attempt left behind."""

    text: str  # Rust: the panic message lines; Python: pytest's whole traceback (longrepr)
    message: str = ""  # Python: pytest's crash line, written as the failure's message attribute
    where: str = ""  # Rust: where it panicked, when not at the test's own assertion
    kind: str = "fail"  # "fail" or "timeout"


@dataclass(frozen=True)
class TestDef:
    """One test in a service's suite."""

    __test__ = False  # not a pytest class

    group: str  # nextest binary id, libtest target ("lib", "integration", "doc"), pytest classname
    name: str
    secs: float  # a typical duration
    where: str = ""  # Rust: file:line:col of its assertion; Python: the test file
    first: int = 1  # first main run it exists in
    last: int = N_NEXT  # last main run it exists in (N_NEXT: still there in the next push)
    pr: str = ""  # exists only on this PR branch
    skip: str = ""  # always ignored / skipped, with this reason
    xfail: str = ""  # pytest xfail reason
    redis: bool = False  # needs the Redis service container
    fails: Failure | None = None  # fails on every run it exists in

    @property
    def key(self) -> str:
        return f"{self.group}::{self.name}"

    def present(self, run: Run) -> bool:
        if self.pr:
            return run.pr == self.pr
        return self.first <= run.n <= self.last


@dataclass(frozen=True)
class Flaky:
    p: float  # chance that one attempt fails
    make: Callable[[random.Random], Failure]


@dataclass(frozen=True)
class Broken:
    first: int
    last: int
    failure: Failure


@dataclass(frozen=True)
class Attempt:
    failure: Failure | None
    secs: float


@dataclass(frozen=True)
class Result:
    test: TestDef
    attempts: tuple[Attempt, ...]  # empty when skipped

    @property
    def skipped(self) -> bool:
        return not self.attempts

    @property
    def failed(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].failure is not None

    @property
    def flaky(self) -> bool:
        """Failed, then passed on a retry in the same run."""
        return (
            len(self.attempts) > 1
            and self.attempts[-1].failure is None
            and any(a.failure for a in self.attempts)
        )

    @property
    def any_failure(self) -> bool:
        return any(a.failure for a in self.attempts)


@dataclass(frozen=True)
class Service:
    name: str
    tests: tuple[TestDef, ...]
    flaky: dict[str, Flaky]
    broken: dict[str, Broken]
    forced: dict[tuple[str, str], str]  # (folder, test key) -> attempts, "F" fail / "P" pass
    max_attempts: Callable[[Run], int]


def hexaddr(r: random.Random) -> str:
    return f"0x7f{r.randrange(16**10):010x}"


# --- user-service: cargo-nextest (profile ci: retries = 2, slow-timeout 30s, terminate after 2)

US_LIB = "user-service"
US_API = "user-service::api"


_us = TestDef


USER_TESTS = (
    _us(US_LIB, "models::user::tests::test_new_user_defaults", 0.004, "src/models/user.rs:141:9"),
    _us(US_LIB, "models::user::tests::test_email_is_normalized", 0.003, "src/models/user.rs:150:9"),
    _us(
        US_LIB, "models::user::tests::test_display_name_fallback", 0.003, "src/models/user.rs:158:9"
    ),
    _us(US_LIB, "models::user::tests::test_serialize_roundtrip", 0.005, "src/models/user.rs:171:9"),
    _us(
        US_LIB,
        "models::role::tests::test_deserialize_rejects_unknown_role",
        0.004,
        "src/models/role.rs:64:9",
    ),
    _us(US_LIB, "validation::tests::test_valid_email_accepted", 0.004, "src/validation.rs:96:9"),
    _us(
        US_LIB,
        "validation::tests::test_email_without_domain_rejected",
        0.003,
        "src/validation.rs:102:9",
    ),
    _us(US_LIB, "validation::tests::test_password_min_length", 0.003, "src/validation.rs:108:9"),
    _us(
        US_LIB, "validation::tests::test_password_requires_digit", 0.003, "src/validation.rs:114:9"
    ),
    _us(
        US_LIB,
        "validation::tests::test_username_unicode_normalized",
        0.006,
        "src/validation.rs:121:9",
    ),
    _us(US_LIB, "auth::password::tests::test_hash_and_verify", 0.61, "src/auth/password.rs:77:9"),
    _us(
        US_LIB,
        "auth::password::tests::test_verify_wrong_password_fails",
        0.58,
        "src/auth/password.rs:84:9",
    ),
    _us(
        US_LIB,
        "auth::password::tests::test_rehash_on_param_upgrade",
        1.12,
        "src/auth/password.rs:93:9",
    ),
    _us(US_LIB, "auth::token::tests::test_issue_and_validate", 0.008, "src/auth/token.rs:118:9"),
    _us(
        US_LIB, "auth::token::tests::test_expired_token_rejected", 0.007, "src/auth/token.rs:127:9"
    ),
    _us(
        US_LIB,
        "auth::token::tests::test_tampered_signature_rejected",
        0.007,
        "src/auth/token.rs:136:9",
    ),
    _us(US_LIB, "auth::token::tests::test_refresh_rotates_jti", 0.009, "src/auth/token.rs:147:9"),
    _us(US_LIB, "cache::tests::test_get_after_insert", 0.004, "src/cache.rs:171:9"),
    _us(US_LIB, "cache::tests::test_ttl_expiry", 0.215, "src/cache.rs:187:9"),
    _us(US_LIB, "cache::tests::test_eviction_lru_order", 0.005, "src/cache.rs:199:9"),
    _us(
        US_LIB, "repo::memory::tests::test_insert_and_find_by_id", 0.004, "src/repo/memory.rs:88:9"
    ),
    _us(
        US_LIB,
        "repo::memory::tests::test_find_by_email_case_insensitive",
        0.004,
        "src/repo/memory.rs:97:9",
    ),
    _us(
        US_LIB,
        "repo::memory::tests::test_soft_delete_hides_user",
        0.004,
        "src/repo/memory.rs:106:9",
    ),
    _us(US_LIB, "pagination::tests::test_cursor_roundtrip", 0.003, "src/pagination.rs:58:9"),
    _us(US_LIB, "pagination::tests::test_page_size_clamped", 0.003, "src/pagination.rs:65:9"),
    _us(US_API, "test_create_user_returns_201", 0.12, "tests/api.rs:41:5"),
    _us(US_API, "test_create_duplicate_email_returns_409", 0.11, "tests/api.rs:58:5"),
    _us(US_API, "test_get_user_by_id", 0.09, "tests/api.rs:74:5"),
    _us(US_API, "test_get_missing_user_returns_404", 0.08, "tests/api.rs:88:5"),
    _us(US_API, "test_update_profile", 0.10, "tests/api.rs:103:5"),
    _us(US_API, "test_update_email_requires_verification", 0.14, "tests/api.rs:119:5", first=10),
    _us(US_API, "test_delete_user_requires_admin", 0.09, "tests/api.rs:137:5"),
    _us(US_API, "test_login_success_sets_cookie", 0.71, "tests/api.rs:152:5"),
    _us(US_API, "test_login_wrong_password_returns_401", 0.69, "tests/api.rs:166:5"),
    _us(US_API, "test_login_rate_limit_window", 1.35, "tests/api.rs:188:9"),
    _us(US_API, "test_concurrent_session_refresh", 0.32, "tests/api.rs:231:9"),
    _us(US_API, "test_list_users_pagination", 0.15, "tests/api.rs:249:5"),
    _us(US_API, "test_password_reset_flow", 0.84, "tests/api.rs:277:5"),
    _us(US_API, "test_health_endpoint", 0.02, "tests/api.rs:291:5"),
)

USER = Service(
    "user-service",
    USER_TESTS,
    flaky={
        f"{US_API}::test_concurrent_session_refresh": Flaky(
            0.15,
            lambda r: Failure(
                "assertion `left == right` failed: both refreshes must see the rotated token\n"
                f"  left: {r.choice((1, 1, 1, 0))}\n right: 2"
            ),
        ),
        f"{US_LIB}::cache::tests::test_ttl_expiry": Flaky(
            0.10,
            lambda r: Failure('assertion failed: cache.get("session:42").is_none()'),
        ),
        f"{US_API}::test_login_rate_limit_window": Flaky(
            0.07, lambda r: Failure("", kind="timeout")
        ),
    },
    broken={
        # fixed by the next push (NEXT_MESSAGE), so it passes in next/
        f"{US_API}::test_get_missing_user_returns_404": Broken(
            21,
            N_MAIN,
            Failure(
                "assertion `left == right` failed: GET /users/{id} with an unknown id\n"
                "  left: 500\n right: 404"
            ),
        ),
    },
    forced={
        ("run-09", f"{US_API}::test_concurrent_session_refresh"): "FFF",
        ("run-03", f"{US_API}::test_login_rate_limit_window"): "FP",
        # the next push: the session race fails every attempt again (the gate must mute it, as
        # classify quarantined it); the other flaky tests pass at once
        (f"run-{N_NEXT}", f"{US_API}::test_concurrent_session_refresh"): "FFF",
        (f"run-{N_NEXT}", f"{US_LIB}::cache::tests::test_ttl_expiry"): "P",
        (f"run-{N_NEXT}", f"{US_API}::test_login_rate_limit_window"): "P",
    },
    max_attempts=lambda run: 3,
)

# --- messaging-service: cargo test --no-fail-fast (no retries)

REDIS_DOWN = (
    "failed to connect to Redis at redis://127.0.0.1:6379: Connection refused (os error 111)"
)
REDIS_HELPER = {"lib": "src/test_support.rs:27:14", "integration": "tests/common/mod.rs:19:10"}
INFRA_BURSTS = {("messaging-service", "run-17")}


_ms = TestDef


MESSAGING_TESTS = (
    _ms("lib", "codec::tests::test_decode_rejects_truncated_frame", 0.001, "src/codec.rs:187:9"),
    _ms("lib", "codec::tests::test_encode_decode_roundtrip", 0.001, "src/codec.rs:176:9"),
    _ms("lib", "codec::tests::test_max_frame_size_enforced", 0.002, "src/codec.rs:195:9"),
    _ms("lib", "codec::tests::test_utf8_subject_validation", 0.001, "src/codec.rs:203:9"),
    _ms(
        "lib", "queue::tests::test_ack_removes_message", 0.034, "src/queue/mod.rs:212:9", redis=True
    ),
    _ms(
        "lib",
        "queue::tests::test_ack_timeout_requeues",
        1.21,
        "src/queue/mod.rs:224:9",
        last=14,
        redis=True,
    ),
    _ms(
        "lib",
        "queue::tests::test_unacked_message_redelivered_after_timeout",
        1.23,
        "src/queue/mod.rs:224:9",
        first=15,
        redis=True,
    ),
    _ms(
        "lib",
        "queue::tests::test_dead_letter_after_max_retries",
        0.31,
        "src/queue/mod.rs:241:9",
        redis=True,
    ),
    _ms(
        "lib",
        "queue::tests::test_enqueue_dequeue_fifo",
        0.029,
        "src/queue/mod.rs:198:9",
        redis=True,
    ),
    _ms(
        "lib",
        "queue::tests::test_nack_requeues_with_backoff",
        0.52,
        "src/queue/mod.rs:256:9",
        redis=True,
    ),
    _ms(
        "lib",
        "queue::tests::test_priority_ordering",
        0.041,
        "src/queue/priority.rs:88:9",
        redis=True,
    ),
    _ms(
        "lib",
        "queue::tests::test_batch_ack_partial_failure",
        0.047,
        "src/queue/ack.rs:203:9",
        pr="batch-ack",
        redis=True,
        fails=Failure(
            "assertion `left == right` failed: only the acked ids leave the pending list\n"
            "  left: [MessageId(3), MessageId(4)]\n right: [MessageId(4)]"
        ),
    ),
    _ms(
        "lib",
        "redis_store::tests::test_cluster_failover",
        0.0,
        redis=True,
        skip="needs a Redis Cluster; run with REDIS_CLUSTER_URL set",
    ),
    _ms(
        "lib",
        "redis_store::tests::test_consumer_group_created_once",
        0.022,
        "src/redis_store/consumer_group.rs:97:9",
        redis=True,
    ),
    _ms(
        "lib",
        "redis_store::tests::test_pending_entries_claimed_after_idle",
        1.05,
        "src/redis_store/consumer_group.rs:118:9",
        redis=True,
    ),
    _ms(
        "lib",
        "redis_store::tests::test_publish_persists_to_stream",
        0.019,
        "src/redis_store/stream.rs:84:9",
        redis=True,
    ),
    _ms("lib", "router::tests::test_exact_topic_match", 0.001, "src/router/mod.rs:131:9"),
    _ms("lib", "router::tests::test_unsubscribe_stops_delivery", 0.003, "src/router/mod.rs:158:9"),
    _ms("lib", "router::tests::test_wildcard_multi_level", 0.001, "src/router/mod.rs:149:9"),
    _ms("lib", "router::tests::test_wildcard_single_level", 0.001, "src/router/mod.rs:140:9"),
    _ms(
        "lib",
        "shutdown::tests::test_graceful_shutdown_drains_inflight",
        0.61,
        "src/shutdown.rs:74:9",
        redis=True,
    ),
    _ms("lib", "tests::test_concurrent_message_delivery", 0.84, "src/lib.rs:212:9", redis=True),
    _ms(
        "lib",
        "tests::test_throughput_soak",
        0.0,
        skip="slow: the nightly job runs it with --ignored",
    ),
    _ms(
        "integration", "test_auth_rejects_bad_token", 0.09, "tests/integration.rs:48:5", redis=True
    ),
    _ms(
        "integration",
        "test_backpressure_blocks_publisher",
        2.1,
        "tests/integration.rs:131:10",
        redis=True,
    ),
    _ms(
        "integration",
        "test_fanout_to_three_consumers",
        0.38,
        "tests/integration.rs:77:9",
        redis=True,
    ),
    _ms(
        "integration", "test_large_payload_chunking", 0.44, "tests/integration.rs:102:5", redis=True
    ),
    _ms("integration", "test_message_ttl_expires", 1.6, "tests/integration.rs:115:5", redis=True),
    _ms(
        "integration", "test_ordering_per_partition", 0.57, "tests/integration.rs:148:9", redis=True
    ),
    _ms(
        "integration",
        "test_publish_subscribe_roundtrip",
        0.12,
        "tests/integration.rs:31:5",
        redis=True,
    ),
    _ms(
        "integration",
        "test_reconnect_resumes_subscription",
        0.93,
        "tests/integration.rs:189:5",
        redis=True,
    ),
    _ms(
        "integration",
        "test_redelivery_after_consumer_crash",
        0.71,
        "tests/integration.rs:164:38",
        redis=True,
    ),
    _ms("doc", "src/client.rs - client::Client::connect (line 41)", 0.45),
    _ms("doc", "src/codec.rs - codec::Frame (line 18)", 0.39),
    _ms("doc", "src/router/topic.rs - router::topic::Topic::matches (line 57)", 0.41),
)

MESSAGING_FLAKY = {
    "lib::tests::test_concurrent_message_delivery": Flaky(
        0.15,
        lambda r: Failure(
            f"assertion failed: delivered == sent (left: {r.choice((99, 99, 99, 98))}, right: 100)"
        ),
    ),
    "integration::test_redelivery_after_consumer_crash": Flaky(
        0.10,
        lambda r: Failure(
            "called `Result::unwrap()` on an `Err` value: Os { code: 104, kind: ConnectionReset, "
            'message: "Connection reset by peer" }'
        ),
    ),
    "integration::test_backpressure_blocks_publisher": Flaky(
        0.07, lambda r: Failure("called `Result::unwrap()` on an `Err` value: Elapsed(())")
    ),
}

MESSAGING = Service(
    "messaging-service",
    MESSAGING_TESTS,
    flaky=MESSAGING_FLAKY,
    broken={},
    forced={("run-17-attempt-2", key): "P" for key in MESSAGING_FLAKY},
    max_attempts=lambda run: 1,
)

# --- search-service: pytest (pytest-timeout 10s; pytest-rerunfailures --reruns 1 in run 19 only)

SITE = "/opt/hostedtoolcache/Python/3.12.7/x64/lib/python3.12"
RERUN_FOLDERS = {"run-19"}


def _ss(group: str, name: str, secs: float, skip: str = "", xfail: str = "") -> TestDef:
    module = group.split(".")[1]
    return TestDef(group, name, secs, f"tests/{module}.py", skip=skip, xfail=xfail)


SEARCH_TESTS = (
    _ss("tests.test_api", "test_health", 0.004),
    _ss("tests.test_api", "test_search_endpoint_ok", 0.041),
    _ss("tests.test_api", "test_search_pagination", 0.038),
    _ss("tests.test_api", "test_search_timeout_returns_504", 0.512),
    _ss("tests.test_api", "test_suggest_endpoint", 0.057),
    _ss("tests.test_api", "test_highlight_snippets", 0.044),
    _ss("tests.test_api", "test_reindex_requires_auth", 0.012),
    _ss(
        "tests.test_api",
        "test_search_with_elasticsearch_backend",
        0.0,
        skip="ELASTICSEARCH_URL not set",
    ),
    _ss("tests.test_cache", "test_query_cache_hit", 0.006),
    _ss("tests.test_cache", "test_query_cache_invalidation_on_update", 0.021),
    _ss("tests.test_cache", "test_cache_respects_max_entries", 0.009),
    _ss("tests.test_index.TestIndexer", "test_add_document", 0.017),
    _ss("tests.test_index.TestIndexer", "test_delete_document", 0.015),
    _ss("tests.test_index.TestIndexer", "test_update_reindexes_fields", 0.022),
    _ss("tests.test_index.TestIndexer", "test_segment_merge", 0.19),
    _ss("tests.test_index.TestIndexer", "test_concurrent_writers", 1.8),
    _ss("tests.test_index.TestIndexer", "test_snapshot_restore", 0.083),
    _ss("tests.test_query.TestParsing", "test_simple_terms", 0.001),
    _ss("tests.test_query.TestParsing", "test_phrase_query", 0.001),
    _ss("tests.test_query.TestParsing", "test_boolean_and_or", 0.002),
    _ss("tests.test_query.TestParsing", "test_negation", 0.001),
    _ss("tests.test_query.TestParsing", "test_field_prefix", 0.001),
    _ss("tests.test_query.TestParsing", "test_rejects_unbalanced_quotes", 0.001),
    _ss(
        "tests.test_query.TestParsing",
        "test_fuzzy_operator",
        0.001,
        xfail="fuzzy operator ~ is not implemented yet",
    ),
    _ss("tests.test_query.TestRanking", "test_bm25_prefers_rare_terms", 0.006),
    _ss("tests.test_query.TestRanking", "test_title_boost_applied", 0.005),
    _ss("tests.test_query.TestRanking", "test_phrase_match_outranks_terms", 0.007),
    _ss("tests.test_query.TestRanking", "test_tie_break_by_doc_id", 0.004),
    _ss("tests.test_query.TestRanking", "test_empty_query_returns_nothing", 0.001),
    _ss("tests.test_tokenize", "test_lowercases", 0.001),
    _ss("tests.test_tokenize", "test_strips_punctuation", 0.001),
    _ss("tests.test_tokenize", "test_unicode_nfkc", 0.001),
    _ss("tests.test_tokenize", "test_stopwords_removed", 0.001),
    _ss("tests.test_tokenize", "test_stemming[running-run]", 0.001),
    _ss("tests.test_tokenize", "test_stemming[flies-fli]", 0.001),
    _ss("tests.test_tokenize", "test_stemming[easily-easili]", 0.001),
)

SEP = "_ " * 39 + "_"


def _cache_failure(r: random.Random) -> Failure:
    missing = r.choice(("doc-7", "doc-7", "doc-11"))
    hits = ", ".join(f"<Hit {d}>" for d in ("doc-2", "doc-5", "doc-9"))
    return Failure(
        message=f"AssertionError: assert 3 == 4\n +  where 3 = len([{hits}])",
        text=(
            f"index = <search_service.index.indexer.Index object at {hexaddr(r)}>\n"
            f"cache = <search_service.cache.QueryCache object at {hexaddr(r)}>\n\n"
            "    def test_query_cache_invalidation_on_update(index, cache):\n"
            '        cache.search(index, "quick fox")\n'
            f'        index.update("{missing}", {{"title": "the quick brown fox"}})\n'
            '        results = cache.search(index, "quick fox")\n'
            ">       assert len(results) == 4\n"
            "E       AssertionError: assert 3 == 4\n"
            f"E        +  where 3 = len([{hits}])\n\n"
            "tests/test_cache.py:41: AssertionError"
        ),
    )


def _writers_timeout(r: random.Random) -> Failure:
    return Failure(
        kind="timeout",
        message="Failed: Timeout (>10.0s) from pytest-timeout.",
        text=(
            f"self = <tests.test_index.TestIndexer object at {hexaddr(r)}>\n"
            "tmp_path = PosixPath('/tmp/pytest-of-runner/pytest-0/test_concurrent_writers0')\n\n"
            "    def test_concurrent_writers(self, tmp_path):\n"
            "        index = Index(tmp_path)\n"
            "        writers = [threading.Thread(target=_write_batch, args=(index, i)) "
            "for i in range(4)]\n"
            "        for w in writers:\n"
            "            w.start()\n"
            "        for w in writers:\n"
            ">           w.join()\n\n"
            f"tests/test_index.py:74: \n{SEP}\n"
            f"{SITE}/threading.py:1149: in join\n"
            "    self._wait_for_tstate_lock()\n"
            f"{SEP}\n\n"
            f"self = <Thread(Thread-{r.randrange(3, 9)} (_write_batch), started "
            f"{r.randrange(139_000_000_000_000, 140_000_000_000_000)})>, block = True, "
            "timeout = -1\n\n"
            "    def _wait_for_tstate_lock(self, block=True, timeout=-1):\n"
            ">           if lock.acquire(block, timeout):\n"
            "E           Failed: Timeout (>10.0s) from pytest-timeout.\n\n"
            f"{SITE}/threading.py:1169: Failed"
        ),
    )


def _suggest_reset(r: random.Random) -> Failure:
    err = (
        "requests.exceptions.ConnectionError: ('Connection aborted.', "
        "ConnectionResetError(104, 'Connection reset by peer'))"
    )
    return Failure(
        message=err,
        text=(
            f"client = <starlette.testclient.TestClient object at {hexaddr(r)}>\n"
            f"suggester = <tests.conftest.StubSuggester object at {hexaddr(r)}>\n\n"
            "    def test_suggest_endpoint(client, suggester):\n"
            '>       resp = client.get("/suggest", params={"q": "qui"})\n\n'
            f"tests/test_api.py:61: \n{SEP}\n"
            "src/search_service/suggest.py:38: in suggest\n"
            '    upstream = self._session.get(self._url, params={"prefix": prefix}, timeout=2)\n'
            f"{SITE}/site-packages/requests/sessions.py:602: in get\n"
            '    return self.request("GET", url, **kwargs)\n'
            f"{SEP}\n\n"
            f"self = <requests.adapters.HTTPAdapter object at {hexaddr(r)}>\n\n"
            ">           raise ConnectionError(err, request=request)\n"
            f"E           {err}\n\n"
            f"{SITE}/site-packages/requests/adapters.py:682: ConnectionError"
        ),
    )


def _ranking_regression(r: random.Random) -> Failure:
    got, want = "['doc-7', 'doc-3', 'doc-12']", "['doc-3', 'doc-7', 'doc-12']"
    return Failure(
        message=(
            f"AssertionError: assert {got} == {want}\n  \n"
            "  At index 0 diff: 'doc-7' != 'doc-3'\n  Use -v to get more diff"
        ),
        text=(
            f"self = <tests.test_query.TestRanking object at {hexaddr(r)}>\n"
            f"ranker = <search_service.query.ranking.Ranker object at {hexaddr(r)}>\n\n"
            "    def test_phrase_match_outranks_terms(self, ranker):\n"
            "        hits = ranker.rank('\"quick brown\" fox', CORPUS)\n"
            '>       assert [h.doc_id for h in hits[:3]] == ["doc-3", "doc-7", "doc-12"]\n'
            f"E       AssertionError: assert {got} == {want}\n"
            "E         \n"
            "E         At index 0 diff: 'doc-7' != 'doc-3'\n"
            "E         Use -v to get more diff\n\n"
            "tests/test_query.py:88: AssertionError"
        ),
    )


SEARCH_FLAKY = {
    "tests.test_cache::test_query_cache_invalidation_on_update": Flaky(0.12, _cache_failure),
    "tests.test_index.TestIndexer::test_concurrent_writers": Flaky(0.10, _writers_timeout),
    "tests.test_api::test_suggest_endpoint": Flaky(0.07, _suggest_reset),
}

SEARCH = Service(
    "search-service",
    SEARCH_TESTS,
    flaky=SEARCH_FLAKY,
    broken={
        # the Broken failure is made per run (object addresses differ), see attempts_for()
        "tests.test_query.TestRanking::test_phrase_match_outranks_terms": Broken(
            12, 13, Failure("")
        ),
    },
    forced={
        ("run-07", "tests.test_cache::test_query_cache_invalidation_on_update"): "F",
        **{("run-07-attempt-2", key): "P" for key in SEARCH_FLAKY},
        ("run-19", "tests.test_api::test_suggest_endpoint"): "FP",
    },
    max_attempts=lambda run: 2 if run.folder in RERUN_FOLDERS else 1,
)

SERVICE_DEFS = {s.name: s for s in (USER, MESSAGING, SEARCH)}


def duration(r: random.Random, secs: float, failure: Failure | None, service: str) -> float:
    if failure is not None and failure.kind == "timeout":
        # nextest: slow-timeout 30s, terminate-after 2; pytest-timeout: 10s
        return (60.0 if service == "user-service" else 10.0) + r.uniform(0.001, 0.012)
    return max(0.0005, secs * math.exp(r.gauss(0.0, 0.18)))


def attempts_for(svc: Service, run: Run, t: TestDef, r: random.Random) -> tuple[Attempt, ...]:
    limit = svc.max_attempts(run)
    if (run.service, run.folder) in INFRA_BURSTS and t.redis:
        down = Failure(REDIS_DOWN, where=REDIS_HELPER[t.group])
        return tuple(Attempt(down, r.uniform(0.001, 0.004)) for _ in range(limit))
    fixed = t.fails
    broken = svc.broken.get(t.key)
    if broken and broken.first <= run.n <= broken.last:  # a PR branch based on it fails too
        # pytest's text carries object addresses that differ per run
        fixed = _ranking_regression(r) if svc is SEARCH else broken.failure
    if fixed is not None:
        return tuple(Attempt(fixed, duration(r, t.secs, fixed, run.service)) for _ in range(limit))
    flaky = svc.flaky.get(t.key)
    script = svc.forced.get((run.folder, t.key))
    out: list[Attempt] = []
    for i in range(limit if script is None else len(script)):
        draw = r.random()
        fail = script[i] == "F" if script is not None else flaky is not None and draw < flaky.p
        if fail:
            assert flaky is not None
            f = flaky.make(r)
            out.append(Attempt(f, duration(r, t.secs, f, run.service)))
        else:
            out.append(Attempt(None, duration(r, t.secs, None, run.service)))
            break
    return tuple(out)


def execute(run: Run) -> list[Result]:
    svc = SERVICE_DEFS[run.service]
    results: list[Result] = []
    for t in svc.tests:
        if not t.present(run):
            continue
        if t.skip or t.xfail:
            results.append(Result(t, ()))
            continue
        r = rng("test", run.service, run.folder, t.key)
        results.append(Result(t, attempts_for(svc, run, t, r)))
    return results


def test_id(service: str, t: TestDef) -> str:
    """The id gatekeeper gives the test (docs/test-ids.md)."""
    if service == "user-service":
        suite = "api" if t.group == US_API else "user_service"
    elif service == "messaging-service":
        suite = "integration" if t.group == "integration" else "messaging_service"
    else:
        suite = t.group
    return f"{suite}::{t.name}"


def simulate(jobs: list[float], threads: int) -> list[tuple[int, float, float]]:
    """Start jobs in order on `threads` workers: (index, start, end), in the order they end."""
    free = [0.0] * threads
    out: list[tuple[int, float, float]] = []
    for i, secs in enumerate(jobs):
        start = heapq.heappop(free)
        heapq.heappush(free, start + secs)
        out.append((i, start, start + secs))
    return sorted(out, key=lambda x: (x[2], x[0]))


# ---------------------------------------------------------------------------------------------
# Writers: test reports
# ---------------------------------------------------------------------------------------------

RUST_NOTE = "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"


def qx(text: str) -> str:
    """Escape as quick-xml does for nextest (all five predefined entities)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
    )


def et_text(text: str) -> str:
    """Escape element text as xml.etree (pytest's junitxml) and minidom do."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def et_attr(text: str) -> str:
    """Escape an attribute value as xml.etree does."""
    return (
        et_text(text)
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#09;")
    )


def nextest_ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+00:00"


def panic(thread: str, where: str, text: str) -> str:
    return f"thread '{thread}' panicked at {where}:\n{text}"


def nextest_parts(t: TestDef, a: Attempt, filtered: int) -> tuple[str, str, str, str]:
    """(type, description, system-out, system-err) of one failed attempt, as nextest writes them."""
    assert a.failure is not None
    if a.failure.kind == "timeout":  # killed: no panic, and libtest never got to its summary
        return "test timeout", "", "\nrunning 1 test\n", ""
    desc = panic(t.name, a.failure.where or t.where, a.failure.text) + "\n" + RUST_NOTE
    out = (
        f"\nrunning 1 test\ntest {t.name} ... FAILED\n\nfailures:\n\nfailures:\n"
        f"    {t.name}\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; "
        f"0 measured; {filtered} filtered out; finished in {a.secs:.2f}s\n\n"
    )
    return "test failure", desc, out, desc + "\n"


def nextest_rerun(tag: str, t: TestDef, a: Attempt, when: datetime, filtered: int) -> list[str]:
    """A <flakyFailure> or <rerunFailure>: an earlier attempt, with its own output."""
    ty, desc, out, err = nextest_parts(t, a, filtered)
    return [
        f'            <{tag} timestamp="{nextest_ts(when)}" time="{a.secs:.3f}" '
        f'type="{ty}">{qx(desc)}',
        f"                <system-out>{qx(out)}</system-out>",
        f"                <system-err>{qx(err)}</system-err>",
        f"            </{tag}>",
    ]


def write_nextest(run: Run, results: list[Result]) -> str:
    """target/nextest/ci/junit.xml as cargo-nextest 0.9.x writes it (quick-junit)."""
    r = rng("nextest", run.folder)
    order = sorted(results, key=lambda x: (x.test.group != US_LIB, x.test.name))
    spawn = 0.004  # nextest starts a process per attempt
    done = simulate([sum(a.secs + spawn for a in res.attempts) for res in order], 4)
    t0 = run.start + timedelta(seconds=r.uniform(45, 80))  # after the build
    per_binary = {g: sum(1 for x in results if x.test.group == g) for g in (US_LIB, US_API)}
    suites: dict[str, list[str]] = {}
    failures = {US_LIB: 0, US_API: 0}
    end_all = 0.0
    for i, start, end in done:
        res = order[i]
        t = res.test
        end_all = max(end_all, end)
        starts: list[datetime] = []
        clock = start
        for a in res.attempts:
            starts.append(t0 + timedelta(seconds=clock))
            clock += a.secs + spawn
        filtered = per_binary[t.group] - 1
        main_i = 0 if res.failed else len(res.attempts) - 1
        main = res.attempts[main_i]
        lines = [
            f'        <testcase name="{qx(t.name)}" classname="{t.group}" '
            f'timestamp="{nextest_ts(starts[main_i])}" time="{main.secs:.3f}">'
        ]
        if res.failed:
            failures[t.group] += 1
            ty, desc, out, err = nextest_parts(t, main, filtered)
            if desc:
                lines.append(f'            <failure type="{ty}">{qx(desc)}</failure>')
            else:
                lines.append(f'            <failure type="{ty}"/>')
            for a, when in zip(res.attempts[1:], starts[1:], strict=True):
                lines += nextest_rerun("rerunFailure", t, a, when, filtered)
            lines.append(f"            <system-out>{qx(out)}</system-out>")
            lines.append(f"            <system-err>{qx(err)}</system-err>")
        else:
            for a, when in zip(res.attempts[:-1], starts[:-1], strict=True):
                lines += nextest_rerun("flakyFailure", t, a, when, filtered)
        lines.append("        </testcase>")
        suites.setdefault(t.group, []).append("\n".join(lines))
    total = sum(len(v) for v in suites.values())
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="nextest-run" tests="{total}" failures="{sum(failures.values())}" '
        f'errors="0" uuid="{uuid4(r)}" timestamp="{nextest_ts(t0)}" '
        f'time="{end_all + r.uniform(0.02, 0.09):.3f}">\n'
    )
    body = []
    for group, cases in suites.items():
        body.append(
            f'    <testsuite name="{group}" tests="{len(cases)}" disabled="0" errors="0" '
            f'failures="{failures[group]}">\n' + "\n".join(cases) + "\n    </testsuite>\n"
        )
    return head + "".join(body) + "</testsuites>\n"


def uuid4(r: random.Random) -> str:
    h = f"{r.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[r.randrange(4)]}{h[17:20]}-{h[20:]}"


def cargo_elapsed(secs: float) -> str:
    if secs >= 60:
        return f"{int(secs) // 60}m {int(secs) % 60:02d}s"
    return f"{secs:.2f}s"


def cargo_finished(profile: str, detail: str, secs: float, era: str) -> str:
    # cargo 1.77 changed `Finished test [..]` to ``Finished `test` profile [..]``
    name = f"`{profile}` profile" if era == "new" else profile
    return f"    Finished {name} [{detail}] target(s) in {cargo_elapsed(secs)}"


def bin_hash(*parts: object) -> str:
    return sha1("binary", *parts)[:16]


def libtest_block(results: list[Result], threads: int, doc: bool) -> tuple[str, bool]:
    """One test binary's libtest output: `running N tests` to the `test result:` line."""
    done = simulate([x.attempts[0].secs if x.attempts else 0.0 for x in results], threads)
    n = len(results)
    out = [f"\nrunning {n} test{'' if n == 1 else 's'}\n"]
    failures: list[tuple[str, str]] = []
    passed = ignored = 0
    noted = False
    for i, _start, _end in done:
        res = results[i]
        name = res.test.name
        if res.skipped:
            reason = f", {res.test.skip}" if res.test.skip else ""
            out.append(f"test {name} ... ignored{reason}\n")
            ignored += 1
        elif res.failed:
            out.append(f"test {name} ... FAILED\n")
            f = res.attempts[-1].failure
            assert f is not None
            captured = panic(name, f.where or res.test.where, f.text) + "\n"
            if doc or not noted:  # the panic hook prints the note once per process
                captured += RUST_NOTE + "\n"
                noted = True
            failures.append((name, captured))
        else:
            out.append(f"test {name} ... ok\n")
            passed += 1
    if failures:
        out.append("\nfailures:\n\n")
        out += [f"---- {name} stdout ----\n{captured}\n" for name, captured in failures]
        out.append("\nfailures:\n")
        out += [f"    {name}\n" for name in sorted(name for name, _ in failures)]
    finished = max((e for _, _, e in done), default=0.0) + 0.004
    verdict = "FAILED" if failures else "ok"
    out.append(
        f"\ntest result: {verdict}. {passed} passed; {len(failures)} failed; {ignored} ignored; "
        f"0 measured; 0 filtered out; finished in {finished:.2f}s\n\n"
    )
    return "".join(out), bool(failures)


def write_cargo_test(run: Run, results: list[Result]) -> str:
    """`cargo test --no-fail-fast 2>&1 | tee cargo-test.txt` (stable libtest human output)."""
    r = rng("cargo-test", run.folder)
    parts = [
        f"   Compiling messaging-service v0.7.2 ({WORK}/messaging-service)\n",
        cargo_finished("test", "unoptimized + debuginfo", r.uniform(31, 58), run.era) + "\n",
    ]
    targets = (
        (
            "lib",
            "     Running unittests src/lib.rs (target/debug/deps/messaging_service-"
            f"{bin_hash('messaging_service', run.era)})",
            "--lib",
        ),
        (
            "integration",
            "     Running tests/integration.rs (target/debug/deps/integration-"
            f"{bin_hash('integration', run.era)})",
            "--test integration",
        ),
        ("doc", "   Doc-tests messaging_service", "--doc"),
    )
    failed: list[str] = []
    for group, header, flag in targets:
        block = sorted((x for x in results if x.test.group == group), key=lambda x: x.test.name)
        text, bad = libtest_block(block, 4, doc=group == "doc")
        parts += [header + "\n", text]
        if bad:
            kind = "doctest" if group == "doc" else "test"
            parts.append(f"error: {kind} failed, to rerun pass `{flag}`\n")
            failed.append(flag)
    if failed:
        noun = "target" if len(failed) == 1 else "targets"
        parts.append(f"error: {len(failed)} {noun} failed:\n")
        parts += [f"    `{flag}`\n" for flag in failed]
    return "".join(parts)


def write_pytest(run: Run, results: list[Result]) -> str:
    """junit.xml as pytest 8 writes it (junit_family=xunit2, one line; reruns in run 19)."""
    r = rng("pytest", run.folder)
    t0 = run.start + timedelta(seconds=r.uniform(25, 50), microseconds=r.randrange(1_000_000))
    cases: list[str] = []
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    total = r.uniform(0.9, 1.6)  # collection, fixtures, plugin start-up
    for res in results:
        t = res.test
        head = f'<testcase classname="{t.group}" name="{et_attr(t.name)}"'
        if res.skipped:
            counts["tests"] += 1
            counts["skipped"] += 1
            if t.xfail:
                cases.append(
                    f'{head} time="0.001"><skipped type="pytest.xfail" '
                    f'message="{et_attr(t.xfail)}" /></testcase>'
                )
            else:
                detail = f"{WORK}/search-service/{t.where}:88: {t.skip}"
                cases.append(
                    f'{head} time="0.000"><skipped type="pytest.skip" '
                    f'message="{et_attr(t.skip)}">{et_text(detail)}</skipped></testcase>'
                )
            continue
        # pytest-rerunfailures-style: one <testcase> per attempt, the last one is final
        for a in res.attempts:
            counts["tests"] += 1
            total += a.secs
            if a.failure is None:
                cases.append(f'{head} time="{a.secs:.3f}" />')
            else:
                counts["failures"] += 1
                cases.append(
                    f'{head} time="{a.secs:.3f}"><failure message="{et_attr(a.failure.message)}">'
                    f"{et_text(a.failure.text)}</failure></testcase>"
                )
    host = f"fv-az{rng('host', run.folder).randrange(100, 2000)}-{r.randrange(100, 999)}"
    suite = (
        f'<testsuite name="pytest" errors="0" failures="{counts["failures"]}" '
        f'skipped="{counts["skipped"]}" tests="{counts["tests"]}" time="{total:.3f}" '
        f'timestamp="{t0.isoformat()}" hostname="{host}">'
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
        + suite
        + "".join(cases)
        + "</testsuite></testsuites>"
    )


# ---------------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    path: str
    lines: int  # executable lines (statements)
    share: float  # typical share of them covered
    fns: tuple[str, ...] = ()  # llvm-cov method names
    first: int = 1
    pr: str = ""  # also on this PR branch before `first`
    fixed: bool = False  # untested code: does not follow the service's drift

    def present(self, run: Run) -> bool:
        return run.n >= self.first or (bool(self.pr) and run.pr == self.pr)


def _sf(
    path: str,
    lines: int,
    share: float,
    *fns: str,
    first: int = 1,
    pr: str = "",
    fixed: bool = False,
) -> SourceFile:
    return SourceFile(path, lines, share, fns, first, pr, fixed)


USER_FILES = (
    _sf("src/lib.rs", 9, 0.9),
    _sf("src/main.rs", 7, 0.0, fixed=True),
    _sf("src/config.rs", 16, 0.62),
    _sf("src/error.rs", 14, 0.55),
    _sf("src/telemetry.rs", 11, 0.41),
    _sf("src/validation.rs", 22, 0.93),
    _sf("src/cache.rs", 26, 0.88),
    _sf("src/pagination.rs", 15, 0.95),
    _sf("src/api/mod.rs", 6, 1.0),
    _sf("src/api/routes.rs", 18, 0.86),
    _sf("src/api/handlers.rs", 36, 0.78),
    _sf("src/api/middleware.rs", 20, 0.69),
    _sf("src/api/request.rs", 19, 0.84),
    _sf("src/auth/mod.rs", 5, 1.0),
    _sf("src/auth/password.rs", 17, 0.9),
    _sf("src/auth/token.rs", 29, 0.87),
    _sf("src/auth/session.rs", 24, 0.72),
    _sf("src/models/mod.rs", 3, 1.0),
    _sf("src/models/user.rs", 25, 0.91),
    _sf("src/models/role.rs", 11, 0.85),
    _sf("src/repo/mod.rs", 8, 0.8),
    _sf("src/repo/memory.rs", 21, 0.93),
    _sf("src/repo/postgres.rs", 32, 0.38),
    # the next push lands an export module with almost no tests: coverage falls below 75%
    _sf("src/export.rs", 40, 0.1, first=N_NEXT, fixed=True),
)

MESSAGING_FILES = (
    _sf(
        "src/lib.rs",
        10,
        0.9,
        "messaging_service::init_tracing",
        "messaging_service::tests::test_concurrent_message_delivery::{closure#0}",
    ),
    _sf(
        "src/client.rs",
        17,
        0.83,
        "<messaging_service::client::Client>::connect::{closure#0}",
        "<messaging_service::client::Client>::subscribe::{closure#0}",
    ),
    _sf(
        "src/codec.rs",
        14,
        0.96,
        "messaging_service::codec::encode",
        "<messaging_service::codec::Frame>::decode",
    ),
    _sf("src/config.rs", 8, 0.71, "<messaging_service::config::Config>::from_env"),
    _sf("src/error.rs", 6, 0.58, "<messaging_service::error::Error as core::fmt::Display>::fmt"),
    _sf(
        "src/delivery.rs",
        13,
        0.87,
        "<messaging_service::delivery::Dispatcher>::run::{closure#0}",
        "<messaging_service::delivery::Dispatcher>::deliver::{closure#0}",
    ),
    _sf("src/shutdown.rs", 7, 0.9, "<messaging_service::shutdown::Shutdown>::drain::{closure#0}"),
    _sf("src/metrics.rs", 5, 0.64, "messaging_service::metrics::register"),
    _sf(
        "src/queue/mod.rs",
        19,
        0.92,
        "<messaging_service::queue::Queue>::enqueue::{closure#0}",
        "<messaging_service::queue::Queue>::requeue_expired::{closure#0}",
    ),
    _sf(
        "src/queue/ack.rs",
        11,
        0.88,
        "<messaging_service::queue::ack::AckTracker>::ack",
        "<messaging_service::queue::ack::AckTracker>::nack",
    ),
    _sf(
        "src/queue/dead_letter.rs",
        7,
        0.81,
        "<messaging_service::queue::dead_letter::DeadLetter>::park::{closure#0}",
    ),
    _sf(
        "src/queue/priority.rs",
        8,
        0.95,
        "<messaging_service::queue::priority::PriorityQueue>::push",
    ),
    _sf(
        "src/router/mod.rs",
        13,
        0.91,
        "<messaging_service::router::Router>::route",
        "<messaging_service::router::Router>::unsubscribe",
    ),
    _sf("src/router/topic.rs", 9, 0.97, "<messaging_service::router::topic::Topic>::matches"),
    _sf(
        "src/router/trie.rs",
        11,
        0.89,
        "<messaging_service::router::trie::TopicTrie>::insert",
        "<messaging_service::router::trie::TopicTrie>::lookup",
        first=12,
    ),
    _sf(
        "src/redis_store/mod.rs",
        7,
        0.83,
        "<messaging_service::redis_store::RedisStore>::open::{closure#0}",
    ),
    _sf(
        "src/redis_store/stream.rs",
        12,
        0.86,
        "<messaging_service::redis_store::stream::Stream>::append::{closure#0}",
    ),
    _sf(
        "src/redis_store/consumer_group.rs",
        14,
        0.79,
        "<messaging_service::redis_store::consumer_group::Group>::claim_idle::{closure#0}",
        "<messaging_service::redis_store::consumer_group::Group>::ensure::{closure#0}",
    ),
    _sf(
        "src/bin/messaging-server.rs",
        7,
        0.0,
        "messaging_server::main::{closure#0}",
        "messaging_server::main",
        fixed=True,
    ),
)

SEARCH_FILES = (
    _sf("search_service/__init__.py", 1, 1.0),
    _sf("search_service/app.py", 15, 0.9),
    _sf("search_service/config.py", 12, 0.83),
    _sf("search_service/cache.py", 21, 0.93),
    _sf("search_service/suggest.py", 14, 0.85),
    _sf("search_service/tokenize.py", 19, 0.97),
    _sf("search_service/synonyms.py", 16, 0.23, first=25, pr="synonyms", fixed=True),
    _sf("search_service/api/__init__.py", 0, 1.0),
    _sf("search_service/api/routes.py", 29, 0.88),
    _sf("search_service/api/schemas.py", 17, 1.0),
    _sf("search_service/api/deps.py", 9, 0.78),
    _sf("search_service/index/__init__.py", 2, 1.0),
    _sf("search_service/index/indexer.py", 37, 0.9),
    _sf("search_service/index/segment.py", 26, 0.86),
    _sf("search_service/index/snapshot.py", 16, 0.8),
    _sf("search_service/query/__init__.py", 0, 1.0),
    _sf("search_service/query/parser.py", 33, 0.94),
    _sf("search_service/query/ranking.py", 24, 0.92),
    _sf("search_service/query/bm25.py", 12, 1.0),
    _sf("search_service/query/highlight.py", 18, 0.81),
    _sf("search_service/backends/__init__.py", 0, 1.0),
    _sf("search_service/backends/elasticsearch.py", 23, 0.22, fixed=True),
)

FILES = {
    "user-service": USER_FILES,
    "messaging-service": MESSAGING_FILES,
    "search-service": SEARCH_FILES,
}


@dataclass(frozen=True)
class Layout:
    """The fixed shape of one source file: its executable lines and which go uncovered first."""

    lines: tuple[int, ...]
    uncover_order: tuple[int, ...]
    base_hits: dict[int, int]
    branches: dict[int, tuple[str, str, float]]  # line -> (target, other target, hardness)
    fn_lines: tuple[int, ...]


def layout(service: str, f: SourceFile) -> Layout:
    r = rng("layout", service, f.path)
    lines: list[int] = []
    n = r.randrange(3, 18)
    for _ in range(f.lines):
        lines.append(n)
        n += r.choices((1, 2, 3, 4, 7), weights=(62, 18, 9, 6, 5))[0]
    # uncovered code comes in blocks (an error path, a rarely used branch)
    chunks: list[list[int]] = []
    i = 0
    while i < len(lines):
        size = r.randrange(1, 6)
        chunks.append(lines[i : i + size])
        i += size
    r.shuffle(chunks)
    order = tuple(x for c in chunks for x in c)
    hits = {ln: int(r.paretovariate(1.3) * r.choice((1, 2, 4, 12))) for ln in lines}
    branches: dict[int, tuple[str, str, float]] = {}
    for k, ln in enumerate(lines[:-2]):
        if r.random() < 0.18:
            other = lines[min(len(lines) - 1, k + r.randrange(2, 7))]
            far = "exit" if r.random() < 0.2 else str(other)
            branches[ln] = (str(lines[k + 1]), far, r.random())
    step = max(1, len(lines) // max(1, len(f.fns)))
    fn_lines = tuple(lines[min(len(lines) - 1, j * step)] for j in range(len(f.fns)))
    return Layout(tuple(lines), order, hits, branches, fn_lines)


def coverage_target(run: Run) -> float:
    svc = run.service
    if (svc, run.folder) in INFRA_BURSTS:
        return 0.575  # most tests died at the Redis connection, so most code never ran
    base = {
        "user-service": (0.781, 0.0012),
        "messaging-service": (0.846, 0.0009),
        "search-service": (0.874, 0.0008),
    }[svc]
    return base[0] + base[1] * (run.n - 1) + rng("covtarget", svc, run.n).gauss(0, 0.0015)


@dataclass(frozen=True)
class FileCov:
    file: SourceFile
    layout: Layout
    hits: dict[int, int]  # line -> hits (0 = missed)
    share: float


def coverage_state(run: Run) -> list[FileCov]:
    files = [f for f in FILES[run.service] if f.present(run)]
    layouts = {f.path: layout(run.service, f) for f in files}
    noise = {f.path: rng("covnoise", run.service, f.path, run.n).gauss(0, 0.008) for f in files}

    def shares(shift: float) -> dict[str, float]:
        return {
            f.path: f.share if f.fixed else min(1.0, max(0.0, f.share + shift + noise[f.path]))
            for f in files
        }

    def uncovered(f: SourceFile, share: float) -> set[int]:
        order = layouts[f.path].uncover_order
        return set(order[: round(len(order) * (1.0 - share))])

    def rate(shift: float) -> float:
        s = shares(shift)
        valid = sum(f.lines for f in files if not f.fixed)
        missed = sum(len(uncovered(f, s[f.path])) for f in files if not f.fixed)
        return (valid - missed) / valid

    lo, hi, target = -1.0, 1.0, coverage_target(run)
    for _ in range(50):  # bisect the service-wide drift that lands on the target
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rate(mid) < target else (lo, mid)
    s = shares(hi)
    r = rng("hits", run.folder)
    out: list[FileCov] = []
    for f in files:
        lay = layouts[f.path]
        miss = uncovered(f, s[f.path])
        hits = {
            ln: 0 if ln in miss else max(1, round(lay.base_hits[ln] * math.exp(r.gauss(0, 0.1))))
            for ln in lay.lines
        }
        out.append(FileCov(f, lay, hits, s[f.path]))
    return out


def rust_float(x: float) -> str:
    """f64 as Rust's Display writes it: 1 and 0 without a fraction, else the shortest repr."""
    return str(int(x)) if x == int(x) else repr(x)


def py_rate(hit: int, num: int) -> str:
    """coverage.py's rate(): "%.4g", and "1" for nothing to cover."""
    return "1" if num == 0 else f"{hit / num:.4g}"


def covered(fc: FileCov) -> int:
    return sum(1 for h in fc.hits.values() if h)


def coverage_epoch(run: Run, minutes: float) -> int:
    return int((run.start + timedelta(minutes=minutes)).timestamp())


def write_tarpaulin(run: Run, state: list[FileCov]) -> str:
    """cobertura.xml as cargo-tarpaulin 0.31 writes it (one line, packages = directories)."""
    packages: dict[str, list[FileCov]] = {}
    for fc in state:
        packages.setdefault(fc.file.path.rsplit("/", 1)[0], []).append(fc)
    packages = dict(sorted(packages.items()))
    packages["tests"] = []  # tarpaulin lists the integration-test folder, with no classes
    valid = sum(len(fc.hits) for fc in state)
    cov = sum(covered(fc) for fc in state)
    out = [
        f'<?xml version="1.0"?><coverage lines-covered="{cov}" lines-valid="{valid}" '
        f'line-rate="{rust_float(cov / valid)}" branches-covered="0" branches-valid="0" '
        f'branch-rate="0" complexity="0" version="1.9" timestamp="{coverage_epoch(run, 9)}">'
        f"<sources><source>{WORK}/user-service</source></sources><packages>"
    ]
    for name, fcs in packages.items():
        pv = sum(len(fc.hits) for fc in fcs)
        pc = sum(covered(fc) for fc in fcs)
        rate = rust_float(pc / pv) if pv else "0"
        out.append(f'<package name="{name}" line-rate="{rate}" branch-rate="0" complexity="0">')
        out.append("<classes>")
        for fc in sorted(fcs, key=lambda x: x.file.path):
            stem = fc.file.path.rsplit("/", 1)[1].removesuffix(".rs")
            lr = rust_float(covered(fc) / len(fc.hits))
            out.append(
                f'<class name="{stem}" filename="{fc.file.path}" line-rate="{lr}" '
                'branch-rate="0" complexity="0"><methods/><lines>'
            )
            out += [f'<line number="{ln}" hits="{h}"/>' for ln, h in fc.hits.items()]
            out.append("</lines></class>")
        out.append("</classes></package>")
    out.append("</packages></coverage>")
    return "".join(out)


def write_llvm_cov(run: Run, state: list[FileCov]) -> str:
    """cobertura.xml as `cargo llvm-cov --cobertura` writes it (its lcov2cobertura port)."""
    packages: dict[str, list[FileCov]] = {}
    for fc in state:
        packages.setdefault(fc.file.path.rsplit("/", 1)[0].replace("/", "."), []).append(fc)
    valid = sum(len(fc.hits) for fc in state)
    cov = sum(covered(fc) for fc in state)
    i4 = "    "
    out = [
        '<?xml version="1.0" ?>',
        '<!DOCTYPE coverage SYSTEM "https://cobertura.sourceforge.net/xml/coverage-04.dtd">',
        f'<coverage branch-rate="0" branches-covered="0" branches-valid="0" complexity="0" '
        f'line-rate="{rust_float(cov / valid)}" lines-covered="{cov}" lines-valid="{valid}" '
        f'timestamp="{coverage_epoch(run, 12)}" version="2.0.3">',
        f"{i4}<sources>",
        f"{i4 * 2}<source>{WORK}/messaging-service</source>",
        f"{i4}</sources>",
        f"{i4}<packages>",
    ]
    for name, fcs in packages.items():
        pv = sum(len(fc.hits) for fc in fcs)
        pc = sum(covered(fc) for fc in fcs)
        out.append(
            f'{i4 * 2}<package line-rate="{rust_float(pc / pv)}" branch-rate="0" name="{name}" '
            'complexity="0">'
        )
        out.append(f"{i4 * 3}<classes>")
        for fc in fcs:
            path = fc.file.path
            out.append(
                f'{i4 * 4}<class branch-rate="0" complexity="0" filename="{path}" '
                f'line-rate="{rust_float(covered(fc) / len(fc.hits))}" '
                f'name="{path.replace("/", ".")}">'
            )
            out.append(f"{i4 * 5}<methods>")
            for fn, ln in zip(fc.file.fns, fc.layout.fn_lines, strict=True):
                h = fc.hits[ln]
                rate = "1" if h else "0"
                out += [
                    f'{i4 * 6}<method name="{qx(fn)}" signature="" complexity="0" '
                    f'line-rate="{rate}" branch-rate="{rate}">',
                    f"{i4 * 7}<lines>",
                    f'{i4 * 8}<line hits="{h}" number="{ln}" branch="false"/>',
                    f"{i4 * 7}</lines>",
                    f"{i4 * 6}</method>",
                ]
            out.append(f"{i4 * 5}</methods>")
            out.append(f"{i4 * 5}<lines>")
            out += [
                f'{i4 * 6}<line branch="false" hits="{h}" number="{ln}"/>'
                for ln, h in fc.hits.items()
            ]
            out.append(f"{i4 * 5}</lines>")
            out.append(f"{i4 * 4}</class>")
        out.append(f"{i4 * 3}</classes>")
        out.append(f"{i4 * 2}</package>")
    out += [f"{i4}</packages>", "</coverage>"]
    return "\n".join(out)


def branch_counts(fc: FileCov, line: int) -> tuple[int, int, list[str]]:
    """(total, taken, missing targets) of a branch line in a coverage.py report."""
    target, other, hardness = fc.layout.branches[line]
    if not fc.hits[line]:
        return 2, 0, [target, other]
    if hardness < fc.share - 0.12:
        return 2, 2, []
    return 2, 1, [other]


def write_coveragepy(run: Run, state: list[FileCov]) -> str:
    """coverage.xml as coverage.py 7.6 writes it (minidom toprettyxml, --branch)."""
    packages: dict[str, list[FileCov]] = {}
    for fc in state:
        packages.setdefault(fc.file.path.rsplit("/", 1)[0].replace("/", "."), []).append(fc)
    packages = dict(sorted(packages.items()))

    def totals(fcs: Iterable[FileCov]) -> tuple[int, int, int, int]:
        lv = lc = bv = bc = 0
        for fc in fcs:
            lv += len(fc.hits)
            lc += covered(fc)
            for ln in fc.layout.branches:
                total, taken, _ = branch_counts(fc, ln)
                bv += total
                bc += taken
        return lv, lc, bv, bc

    lv, lc, bv, bc = totals(state)
    ms = coverage_epoch(run, 6) * 1000 + rng("ms", run.folder).randrange(1000)
    t = "\t"
    out = [
        '<?xml version="1.0" ?>',
        f'<coverage version="7.6.1" timestamp="{ms}" lines-valid="{lv}" lines-covered="{lc}" '
        f'line-rate="{py_rate(lc, lv)}" branches-valid="{bv}" branches-covered="{bc}" '
        f'branch-rate="{py_rate(bc, bv)}" complexity="0">',
        f"{t}<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/7.6.1 -->",
        f"{t}<!-- Based on https://raw.githubusercontent.com/cobertura/web/master/htdocs/xml/"
        "coverage-04.dtd -->",
        f"{t}<sources>",
        f"{t * 2}<source>{WORK}/search-service/src</source>",
        f"{t}</sources>",
        f"{t}<packages>",
    ]
    for name, fcs in packages.items():
        plv, plc, pbv, pbc = totals(fcs)
        out.append(
            f'{t * 2}<package name="{name}" line-rate="{py_rate(plc, plv)}" '
            f'branch-rate="{py_rate(pbc, pbv)}" complexity="0">'
        )
        out.append(f"{t * 3}<classes>")
        for fc in sorted(fcs, key=lambda x: x.file.path):
            clv, clc, cbv, cbc = totals([fc])
            base = fc.file.path.rsplit("/", 1)[1]
            out.append(
                f'{t * 4}<class name="{base}" filename="{fc.file.path}" complexity="0" '
                f'line-rate="{py_rate(clc, clv)}" branch-rate="{py_rate(cbc, cbv)}">'
            )
            out.append(f"{t * 5}<methods/>")
            if not fc.hits:
                out.append(f"{t * 5}<lines/>")
            else:
                out.append(f"{t * 5}<lines>")
                for ln, h in fc.hits.items():
                    attrs = f'number="{ln}" hits="{1 if h else 0}"'
                    if ln in fc.layout.branches:
                        total, taken, missing = branch_counts(fc, ln)
                        attrs += (
                            f' branch="true" condition-coverage="{100 * taken // total}% '
                            f'({taken}/{total})"'
                        )
                        if missing:
                            attrs += f' missing-branches="{",".join(missing)}"'
                    out.append(f"{t * 6}<line {attrs}/>")
                out.append(f"{t * 5}</lines>")
            out.append(f"{t * 4}</class>")
        out.append(f"{t * 3}</classes>")
        out.append(f"{t * 2}</package>")
    out += [f"{t}</packages>", "</coverage>", ""]
    return "\n".join(out)


def line_rate(state: list[FileCov]) -> float:
    return sum(covered(fc) for fc in state) / sum(len(fc.hits) for fc in state)


# ---------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    name: str
    ns: float  # typical time per iteration
    noise: float  # run-to-run relative standard deviation
    step: Callable[[Run], float] = lambda run: 1.0  # a lasting change in speed


CRITERION_BENCHES = (
    # parse_request got ~25% slower when the request-id-header branch was merged (run 24)
    Bench(
        "parse_request",
        1840.0,
        0.02,
        lambda run: 1.25 if run.n >= 24 or run.pr == "request-id-header" else 1.0,
    ),
    Bench("validate_email", 238.0, 0.015),
    # serialize_user got ~35% slower in the next push (next/, not in the history)
    Bench("serialize_user", 612.0, 0.015, lambda run: 1.35 if run.n >= N_NEXT else 1.0),
    Bench("hash_password", 12.4e6, 0.02),
)
LIBTEST_BENCHES = (
    Bench("bench_decode_small_frame", 655.0, 0.02),
    Bench("bench_encode_small_frame", 412.0, 0.02),
    Bench("bench_publish_batch_100", 84_310.0, 0.025),
    # the trie router (run 12) made wildcard routing ~40% faster
    Bench("bench_route_wildcard_1k_subs", 18_420.0, 0.02, lambda run: 0.6 if run.n >= 12 else 1.0),
)
PYTEST_BENCHES = (
    Bench("test_bench_query_simple", 48_000.0, 0.03),
    Bench("test_bench_query_phrase", 121_000.0, 0.03),
    Bench("test_bench_index_1k_docs", 84_200_000.0, 0.025),
    Bench("test_bench_tokenize_paragraph", 19_000.0, 0.03),
)
BENCHES = {
    "user-service": CRITERION_BENCHES,
    "messaging-service": LIBTEST_BENCHES,
    "search-service": PYTEST_BENCHES,
}


def bench_ns(run: Run, b: Bench) -> float:
    r = rng("bench", run.service, b.name, run.folder)
    return b.ns * b.step(run) * math.exp(r.gauss(0.0, b.noise))


def criterion_short(n: float) -> str:
    if n < 10:
        return f"{n:.4f}"
    if n < 100:
        return f"{n:.3f}"
    if n < 1000:
        return f"{n:.2f}"
    if n < 10000:
        return f"{n:.1f}"
    return f"{n:.0f}"


def criterion_time(ns: float) -> str:
    if ns < 1.0:
        return f"{criterion_short(ns * 1e3):>6} ps"
    if ns < 1e3:
        return f"{criterion_short(ns):>6} ns"
    if ns < 1e6:
        return f"{criterion_short(ns / 1e3):>6} µs"
    if ns < 1e9:
        return f"{criterion_short(ns / 1e6):>6} ms"
    return f"{criterion_short(ns / 1e9):>6} s"


def criterion_change(pct: float) -> str:
    a = abs(pct)
    digits = 4 if a < 10 else 3 if a < 100 else 2 if a < 1000 else 1
    return f"{pct:+.{digits}f}%"


def criterion_iters(n: int) -> str:
    if n < 10_000:
        return f"{n} iterations"
    if n < 1_000_000:
        return f"{n / 1e3:.0f}k iterations"
    if n < 10_000_000:
        return f"{n / 1e6:.1f}M iterations"
    if n < 1_000_000_000:
        return f"{n / 1e6:.0f}M iterations"
    return f"{n / 1e9:.1f}B iterations"


@dataclass(frozen=True)
class CriterionEstimate:
    low: float
    mid: float
    high: float
    hw: float  # relative half-width of the confidence interval


def criterion_estimate(run: Run, b: Bench) -> CriterionEstimate:
    r = rng("criterion", run.folder, b.name)
    mid = bench_ns(run, b)
    # the interval of one run is narrower than the run-to-run noise of a shared CI runner
    hw = b.noise * (r.uniform(0.6, 1.0) if b.ns > 1e6 else r.uniform(0.3, 0.6))
    return CriterionEstimate(
        mid * (1 - hw * r.uniform(0.8, 1.2)), mid, mid * (1 + hw * r.uniform(0.8, 1.2)), hw
    )


@dataclass(frozen=True)
class CriterionChange:
    low: float  # percent
    mid: float
    high: float
    p: float
    verdict: str


def criterion_change_vs(run: Run, baseline: Run, b: Bench) -> CriterionChange:
    """Criterion's comparison with the saved baseline (the previous run's target/criterion)."""
    r = rng("criterion-change", run.folder, b.name)
    change = criterion_estimate(run, b).mid / criterion_estimate(baseline, b).mid - 1.0
    hw = 1.96 * math.sqrt(2) * b.noise * r.uniform(0.9, 1.1)
    p = math.erfc(abs(change) / (hw / 1.96) / math.sqrt(2))
    lo, hi = (change - hw) * 100, (change + hw) * 100
    # criterion: significant if p < 0.05; then regressed/improved only beyond the 1% noise band
    if p >= 0.05:
        verdict = "No change in performance detected."
    elif lo > 1.0:
        verdict = "Performance has regressed."
    elif hi < -1.0:
        verdict = "Performance has improved."
    else:
        verdict = "Change within noise threshold."
    return CriterionChange(lo, change * 100, hi, p, verdict)


def criterion_change_line(c: CriterionChange) -> str:
    """Criterion's `change:` line, without its indentation."""
    cmp = "<" if c.p < 0.05 else ">"
    return (
        f"change: [{criterion_change(c.low)} {criterion_change(c.mid)} "
        f"{criterion_change(c.high)}] (p = {c.p:.2f} {cmp} 0.05)"
    )


def write_criterion(run: Run, baseline: Run | None) -> str:
    """`cargo bench --bench hot_paths 2>&1 | tee cargo-bench.txt` with Criterion.rs 0.5."""
    r = rng("criterion-log", run.folder)
    parts = [
        cargo_finished("bench", "optimized", r.uniform(95, 150), "new") + "\n",
        "     Running benches/hot_paths.rs (target/release/deps/hot_paths-"
        f"{bin_hash('hot_paths')})\n",
    ]
    pad = " " * 24
    for b in CRITERION_BENCHES:
        est = criterion_estimate(run, b)
        samples = 10 if b.ns > 1e6 else 100
        per_d = samples * (samples + 1) // 2
        d = math.ceil(5e9 / (per_d * est.mid))
        iters = d * per_d
        parts += [
            f"Benchmarking {b.name}\n",
            f"Benchmarking {b.name}: Warming up for 3.0000 s\n",
            f"Benchmarking {b.name}: Collecting {samples} samples in estimated "
            f"{iters * est.mid / 1e9:.4f} s ({criterion_iters(iters)})\n",
            f"Benchmarking {b.name}: Analyzing\n",
            f"{b.name:<24}time:   [{criterion_time(est.low)} {criterion_time(est.mid)} "
            f"{criterion_time(est.high)}]\n",
        ]
        if baseline is not None:
            c = criterion_change_vs(run, baseline, b)
            parts.append(f"{pad}{criterion_change_line(c)}\n")
            parts.append(f"{pad}{c.verdict}\n")
        outliers = r.choices((0, 1, 2, 3, 4, 5, 7, 9), weights=(2, 3, 3, 3, 2, 2, 1, 1))[0]
        if samples == 10:
            outliers = min(outliers, 1)
        if outliers:
            parts.append(
                f"Found {outliers} outliers among {samples} measurements "
                f"({100 * outliers / samples:.2f}%)\n"
            )
            kinds = {"low severe": 0, "low mild": 0, "high mild": 0, "high severe": 0}
            for _ in range(outliers):
                kinds[r.choices(list(kinds), weights=(1, 3, 8, 4))[0]] += 1
            parts += [
                f"  {k} ({100 * k / samples:.2f}%) {kind}\n" for kind, k in kinds.items() if k
            ]
        parts.append("\n")
    return "".join(parts)


def thousands(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}"


def write_libtest_bench(run: Run) -> str:
    """`cargo bench --bench throughput 2>&1 | tee cargo-bench.txt` (nightly, #[bench])."""
    r = rng("libtest-bench", run.folder)
    width = max(len(b.name) for b in LIBTEST_BENCHES)
    parts = [
        cargo_finished("bench", "optimized", r.uniform(70, 110), run.era) + "\n",
        "     Running benches/throughput.rs (target/release/deps/throughput-"
        f"{bin_hash('throughput', run.era)})\n",
        f"\nrunning {len(LIBTEST_BENCHES)} tests\n",
    ]
    total = 0.0
    for b in LIBTEST_BENCHES:
        ns = bench_ns(run, b)
        spread = ns * r.uniform(0.03, 0.12)  # libtest's +/- is max - min of the samples
        total += r.uniform(1.2, 3.4)
        if run.era == "new":  # libtest >= 1.77: two decimals, width 14
            value = f"{thousands(ns, 2):>14} ns/iter (+/- {thousands(spread, 2)})"
        else:
            value = f"{thousands(round(ns), 0):>11} ns/iter (+/- {thousands(round(spread), 0)})"
        parts.append(f"test {b.name:<{width}} ... bench: {value}\n")
    parts.append(
        f"\ntest result: ok. 0 passed; 0 failed; 0 ignored; {len(LIBTEST_BENCHES)} measured; "
        f"0 filtered out; finished in {total:.2f}s\n\n"
    )
    return "".join(parts)


def pytest_benchmark_stats(data: list[float]) -> dict[str, object]:
    """The stats pytest-benchmark 4.0 computes (its quartile methods included)."""
    d = sorted(data)
    n = len(d)
    mean = statistics.fmean(d)
    stddev = statistics.stdev(d) if n > 1 else 0.0
    if n % 2:
        k, q = n // 4, n % 4
        q1 = 0.25 * d[k - 1] + 0.75 * d[k] if q == 1 else 0.75 * d[k] + 0.25 * d[k + 1]
        q3 = (
            0.75 * d[3 * k] + 0.25 * d[3 * k + 1]
            if q == 1
            else 0.25 * d[3 * k + 1] + 0.75 * d[3 * k + 2]
        )
    else:
        q1, q3 = statistics.median(d[: n // 2]), statistics.median(d[n // 2 :])
    iqr = q3 - q1
    lo, hi = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    iqr_out = sum(1 for x in d if x < lo or x > hi)
    sd_out = sum(1 for x in d if x < mean - stddev or x > mean + stddev)
    return {
        "min": d[0],
        "max": d[-1],
        "mean": mean,
        "stddev": stddev,
        "rounds": n,
        "median": statistics.median(d),
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_out,
        "stddev_outliers": sd_out,
        "outliers": f"{sd_out};{iqr_out}",
        "ld15iqr": min(x for x in d if x >= lo),
        "hd15iqr": max(x for x in d if x <= hi),
        "ops": 1.0 / mean,
        "total": math.fsum(d),
        "iterations": 1,
    }


def write_pytest_benchmark(run: Run) -> str:
    """benchmark.json as pytest-benchmark 4.0 writes it (--benchmark-json)."""
    r = rng("pytest-benchmark", run.folder)
    benches = []
    for b in PYTEST_BENCHES:
        mean_s = bench_ns(run, b) / 1e9
        rounds = max(5, min(4000, int(1.0 / mean_s)))
        data = []
        for _ in range(rounds):
            x = mean_s * math.exp(r.gauss(0.0, 0.05))
            if r.random() < 0.02:  # a GC pause or a noisy neighbour
                x *= r.uniform(1.1, 1.5)
            data.append(x)
        benches.append(
            {
                "group": None,
                "name": b.name,
                "fullname": f"tests/benchmarks/test_bench.py::{b.name}",
                "params": None,
                "param": None,
                "extra_info": {},
                "options": {
                    "disable_gc": False,
                    "timer": "perf_counter",
                    "min_rounds": 5,
                    "max_time": 1.0,
                    "min_time": 5e-06,
                    "warmup": False,
                },
                "stats": pytest_benchmark_stats(data),
            }
        )
    when = run.start + timedelta(
        minutes=4, seconds=r.randrange(60), microseconds=r.randrange(10**6)
    )
    doc = {
        "machine_info": {
            "node": f"fv-az{rng('host', run.folder).randrange(100, 2000)}-{r.randrange(100, 999)}",
            "processor": "x86_64",
            "machine": "x86_64",
            "python_compiler": "GCC 11.4.0",
            "python_implementation": "CPython",
            "python_implementation_version": "3.12.7",
            "python_version": "3.12.7",
            "python_build": ["main", "Oct  1 2024 08:11:02"],
            "release": "6.5.0-1025-azure",
            "system": "Linux",
            "cpu": {
                "python_version": "3.12.7.final.0 (64 bit)",
                "cpuinfo_version": [9, 0, 0],
                "cpuinfo_version_string": "9.0.0",
                "arch": "X86_64",
                "bits": 64,
                "count": 4,
                "arch_string_raw": "x86_64",
                "vendor_id_raw": "AuthenticAMD",
                "brand_raw": "AMD EPYC 7763 64-Core Processor",
            },
        },
        "commit_info": {
            "id": run.commit,
            "time": (run.start - timedelta(minutes=3)).isoformat(),
            "author_time": (run.start - timedelta(minutes=41)).isoformat(),
            "dirty": False,
            "project": "platform",
            "branch": run.branch,
        },
        "benchmarks": benches,
        "datetime": when.isoformat(),
        "version": "4.0.0",
    }
    return json.dumps(doc, indent=4) + "\n"


# ---------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------

INVALID_README_TEMPLATE = """\
# Bad inputs

One file per kind of input gatekeeper must refuse (or, for `zero_tests.xml`, accept with a
warning). The error tests and [docs/errors.md](../../docs/errors.md) use them; every message
starts with the file (and the line when it is known) and ends with what to do, and exit code 2
means nothing was stored. Regenerate with `python sample_reports/generate.py`.

{table}

The good lines of `bad_manifest.jsonl` point at `../user-service/run-01/`, so the manifest works
from this folder: paths in a manifest are relative to the manifest's own folder.
"""

INVALID_TABLE = (
    ("file", "what it is", "what gatekeeper must say"),
    (
        "`truncated.xml`",
        "cargo-nextest JUnit cut off in the middle of a `<failure>` text (the job was killed "
        "while writing it)",
        "`ReportParseError`, exit 2, naming the last line: `truncated.xml:{trunc_line}: XML is "
        "truncated: <failure> opened on line {trunc_open} is never closed (was the test job "
        "killed while writing it?)`",
    ),
    (
        "`not_xml.xml`",
        "a 0.1 KB text file named like a report: a wrapper script wrote `cat`'s error into it",
        "auto-detection: `UnknownFormatError`, exit 2: `not_xml.xml: not a report format "
        "gatekeeper reads (tried junit, libtest, ...)`; with `--format junit` or `cobertura`: "
        "`ReportParseError`, `not_xml.xml:1: not XML: ...`",
    ),
    (
        "`empty.xml`",
        "0 bytes",
        "`EmptyReportError`, exit 2: `empty.xml: the file is empty` (hint: did the test step "
        "write its report?)",
    ),
    (
        "`billion_laughs.xml`",
        "a JUnit `<testsuites>` document whose DOCTYPE defines nested entities (`&lol9;` "
        "expands to 10^9 `lol`s)",
        "`UnsafeInputError`, exit 2: `billion_laughs.xml:2: the DOCTYPE declares XML "
        "entities; refusing to read it ...` (line 2 is the DOCTYPE); nothing is expanded (no "
        "memory blow-up, answered in milliseconds)",
    ),
    (
        "`xxe.xml`",
        'a JUnit document with an external entity `SYSTEM "file:///etc/passwd"` used in a '
        "failure message",
        "`UnsafeInputError`, exit 2: `xxe.xml:2: the DOCTYPE declares XML entities; refusing "
        "...`; the file named is never opened and its content never appears in any output or "
        "in the database",
    ),
    (
        "`zero_tests.xml`",
        'well-formed pytest JUnit with `tests="0"` and no `<testcase>` (pytest ran, '
        "collected nothing)",
        "**not an error** ([docs/errors.md](../../docs/errors.md)): stored, exit 0, with the "
        "warning `zero_tests.xml:1: no <testcase> elements: a run with no tests is "
        "suspicious`; the gate treats a run with no tests as suspicious",
    ),
    (
        "`unknown_format.txt`",
        "a TAP (Test Anything Protocol) log from `prove`/node-tap: no format gatekeeper reads",
        "`UnknownFormatError`, exit 2: `unknown_format.txt: not a report format gatekeeper "
        "reads (tried junit, libtest, ...)` (hint: pass `--format NAME` if you know it)",
    ),
    (
        "`cargo_no_result_line.txt`",
        "a `cargo test` log cut off mid-line, before any `test result:` line (the job hit its "
        "timeout)",
        "`ReportParseError`, exit 2: ``cargo_no_result_line.txt:LINE: no `test result:` line: "
        "the log is cut off or the tests did not run``; the `ok` lines before the cut "
        "are **not** stored as a run",
    ),
    (
        "`cobertura_truncated.xml`",
        "a coverage.py `coverage.xml` cut off inside a `<line>` element",
        "`ReportParseError`, exit 2: `cobertura_truncated.xml:{cov_line}: XML is truncated: "
        "no closing </coverage> ...` (the file ends at line {cov_line})",
    ),
    (
        "`bad_manifest.jsonl`",
        "a backfill manifest (`gatekeeper ingest --manifest`) with one bad line of each kind, "
        "after a comment, a blank line and two good lines",
        "`ManifestError`, exit 2, nothing stored; the first bad line is line 5: "
        "`bad_manifest.jsonl:5: not a JSON object (...)`. If gatekeeper reports every bad "
        "line, also: line 6 `missing 'service'`; line 7 timestamp `'20/11/2026 09:14'` is not "
        "ISO 8601; line 8 `attempt 0: must be 1 or more`; line 9 "
        "`../user-service/run-99/junit.xml does not exist (paths in a manifest are relative to "
        "the manifest's folder)`; line 10 `not a JSON object` (a JSON array)",
    ),
)


def markdown_table(rows: Iterable[tuple[str, ...]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def invalid_files(runs: list[Run], reports: dict[str, str]) -> dict[str, str]:
    """The bad inputs, cut from good reports where that is how they happen in real life."""
    out: dict[str, str] = {}
    junit = reports["user-service/run-09/junit.xml"]
    cut = junit.index("assertion `left == right` failed: both") + 24
    out["truncated.xml"] = junit[:cut]
    out["not_xml.xml"] = (
        "cat: target/nextest/ci/junit.xml: No such file or directory\n"
        "warning: no JUnit report was written; see the test step's log\n"
    )
    out["empty.xml"] = ""
    lol = ['  <!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = "lol" if i == 1 else f"lol{i - 1}"
        lol.append(f'  <!ENTITY lol{i} "' + f"&{prev};" * 10 + '">')
    out["billion_laughs.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE testsuites [\n'
        + "\n".join(lol)
        + "\n]>\n"
        '<testsuites name="nextest-run" tests="1" failures="1" errors="0">\n'
        '    <testsuite name="user-service" tests="1" disabled="0" errors="0" failures="1">\n'
        '        <testcase name="cache::tests::test_ttl_expiry" classname="user-service" '
        'time="0.215">\n'
        '            <failure type="test failure">&lol9;</failure>\n'
        "        </testcase>\n    </testsuite>\n</testsuites>\n"
    )
    out["xxe.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE testsuites [\n'
        '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        '<testsuites name="nextest-run" tests="1" failures="1" errors="0">\n'
        '    <testsuite name="user-service" tests="1" disabled="0" errors="0" failures="1">\n'
        '        <testcase name="test_health_endpoint" classname="user-service::api" '
        'time="0.020">\n'
        '            <failure type="test failure">&xxe;</failure>\n'
        "        </testcase>\n    </testsuite>\n</testsuites>\n"
    )
    out["zero_tests.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
        '<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="0" time="0.412" '
        'timestamp="2026-11-20T16:02:11.093817+00:00" hostname="fv-az1312-377" />'
        "</testsuites>"
    )
    out["unknown_format.txt"] = (
        "TAP version 13\n"
        "# Subtest: tokenizer\n"
        "    ok 1 - splits on whitespace\n"
        "    ok 2 - lowercases ASCII and Unicode\n"
        "    not ok 3 - keeps emoji as one token\n"
        "      ---\n"
        "      operator: equal\n"
        "      expected: 3\n"
        "      actual:   4\n"
        "      at: test/tokenizer.test.js:27:5\n"
        "      ...\n"
        "    1..3\n"
        "not ok 1 - tokenizer # time=14.2ms\n"
        "ok 2 - query parser # time=3.9ms\n"
        "1..2\n"
        "# failed 1 of 2 tests\n"
        "# time=61.83ms\n"
    )
    log = reports["messaging-service/run-05/cargo-test.txt"]
    stop = log.index("test router::tests::test_wildcard_multi_level")
    out["cargo_no_result_line.txt"] = log[: stop + len("test router::tests::test_wildc")]
    cov = reports["search-service/run-05/coverage.xml"]
    at = cov.index('<line number="', len(cov) // 2) + len('<line number="3')
    out["cobertura_truncated.xml"] = cov[:at]
    first = next(x for x in runs if x.service == "user-service" and x.folder == "run-01")
    second = next(x for x in runs if x.service == "user-service" and x.folder == "run-02")

    def line(path: str, run: Run, **changes: object) -> str:
        d: dict[str, object] = {
            "path": path,
            "service": run.service,
            "commit": run.commit,
            "branch": run.branch,
            "run_id": run.run_id,
            "timestamp": iso_z(run.start),
            "attempt": run.attempt,
        }
        d.update(changes)
        return json.dumps({k: v for k, v in d.items() if v is not None})

    good = "../user-service/run-01/"
    bad_json = line("../user-service/run-02/junit.xml", second)[:-1]  # the closing brace lost
    out["bad_manifest.jsonl"] = "\n".join(
        [
            "# user-service runs 1 and 2; paths are relative to this file's folder",
            "",
            line(good + "junit.xml", first),
            line(good + "cobertura.xml", first),
            bad_json,
            line("../user-service/run-02/cobertura.xml", second, service=None),
            line("../user-service/run-02/cargo-bench.txt", second, timestamp="20/11/2026 09:14"),
            line("../user-service/run-02/junit.xml", second, attempt=0),
            line("../user-service/run-99/junit.xml", second),
            '["../user-service/run-02/junit.xml", "user-service"]',
            "",
        ]
    )
    lines_of = {name: text.count("\n") + 1 for name, text in out.items()}
    table = markdown_table(INVALID_TABLE).format(
        trunc_line=lines_of["truncated.xml"],
        trunc_open=lines_of["truncated.xml"] - 1,
        cov_line=lines_of["cobertura_truncated.xml"],
    )
    out["README.md"] = INVALID_README_TEMPLATE.format(table=table)
    return out


# ---------------------------------------------------------------------------------------------
# The history: generate every run, the manifest and the README
# ---------------------------------------------------------------------------------------------


def iso_z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RunSummary:
    run: Run
    results: tuple[Result, ...]
    coverage: float
    files: tuple[str, ...]
    baseline: Run | None = None  # the run whose saved Criterion results this one compares with


def run_files(
    run: Run, results: list[Result], state: list[FileCov], base: Run | None
) -> dict[str, str]:
    """The report files of one run, by file name."""
    files: dict[str, str] = {}
    if run.service == "user-service":
        files["junit.xml"] = write_nextest(run, results)
        files["cobertura.xml"] = write_tarpaulin(run, state)
        files["cargo-bench.txt"] = write_criterion(run, base)
    elif run.service == "messaging-service":
        files["cargo-test.txt"] = write_cargo_test(run, results)
        files["cobertura.xml"] = write_llvm_cov(run, state)
        files["cargo-bench.txt"] = write_libtest_bench(run)
    else:
        files["junit.xml"] = write_pytest(run, results)
        files["coverage.xml"] = write_coveragepy(run, state)
        files["benchmark.json"] = write_pytest_benchmark(run)
    return files


def generate() -> tuple[dict[str, str], list[RunSummary], list[Run]]:
    runs = build_runs()
    reports: dict[str, str] = {}
    summaries: list[RunSummary] = []
    previous: dict[tuple[str, str], Run] = {}  # (service, branch) -> its last run, for Criterion
    for run in runs:
        folder = f"{run.service}/{run.folder}"
        results = execute(run)
        state = coverage_state(run)
        base = None
        if run.service == "user-service":
            base = previous.get((run.service, run.branch)) or previous.get((run.service, "main"))
        files = run_files(run, results, state, base)
        previous[(run.service, run.branch)] = run
        for name, text in files.items():
            reports[f"{folder}/{name}"] = text
        summaries.append(
            RunSummary(
                run, tuple(results), line_rate(state), tuple(f"{folder}/{n}" for n in files), base
            )
        )
    return reports, summaries, runs


def generate_next(summaries: list[RunSummary]) -> tuple[dict[str, str], RunSummary]:
    """The next push (next/): its reports, its meta.json, and its summary for the README."""
    run = next_run()
    mains = [s.run for s in summaries if s.run.service == run.service and s.run.branch == "main"]
    base = max(mains, key=lambda x: x.start)  # Criterion compares with the last main run's cache
    results = execute(run)
    state = coverage_state(run)
    folder = f"{NEXT}/{run.service}"
    out = {f"{folder}/{n}": text for n, text in run_files(run, results, state, base).items()}
    out[f"{NEXT}/meta.json"] = json.dumps(run_meta(run), indent=2) + "\n"
    files = tuple(k for k in out if k.startswith(folder + "/"))
    return out, RunSummary(run, tuple(results), line_rate(state), files, base)


def run_meta(run: Run) -> dict[str, object]:
    """A run's metadata: the keys of a manifest line after `path`, in the same order."""
    return {
        "service": run.service,
        "commit": run.commit,
        "branch": run.branch,
        "run_id": run.run_id,
        "timestamp": iso_z(run.start),
        "attempt": run.attempt,
    }


# The monorepo's CODEOWNERS (GitHub's rules: the last matching line wins): a team per service,
# and narrower rules for files another team looks after.
CODEOWNERS = """\
# acme/platform: who fixes what. The last matching line wins.
*                                              @acme/platform
/services/user-service/                        @acme/team-identity
/services/user-service/src/cache.rs            @acme/team-cache
/services/user-service/src/auth/               @acme/team-security
/services/messaging-service/                   @acme/team-messaging
/services/search-service/                      @acme/team-search
/services/search-service/tests/test_index.py   @acme/team-indexing
"""
RUST_CRATES = ("user-service", "messaging-service")


def repository() -> dict[str, str]:
    """The paths of the monorepo the reports come from (each file a one-line stand-in), its
    crates' Cargo.toml and its CODEOWNERS: what `gatekeeper classify` reads to give a test an
    owner (docs/owners.md). The test files are the ones the reports name (a Rust test's
    assertion, a Python test's module), the sources those of the coverage reports."""
    out = {f"{REPOSITORY}/.github/CODEOWNERS": CODEOWNERS}
    tests = {"user-service": USER_TESTS, "messaging-service": MESSAGING_TESTS}
    tests["search-service"] = SEARCH_TESTS
    for service in SERVICES:
        base = f"{REPOSITORY}/services/{service}"
        paths = {t.where.split(":")[0] for t in tests[service] if t.where}
        source = "src/" if service == "search-service" else ""
        paths |= {source + f.path for f in FILES[service]}
        if service in RUST_CRATES:
            out[f"{base}/Cargo.toml"] = (
                f'[package]\nname = "{service}"\nversion = "0.1.0"\nedition = "2021"\n'
            )
        else:
            paths.add("tests/__init__.py")
        for path in sorted(paths):
            comment = "#" if path.endswith(".py") else "//"
            out[f"{base}/{path}"] = f"{comment} {service}/{path}: a stand-in (generate.py)\n"
    return out


def manifest(summaries: list[RunSummary]) -> str:
    lines = []
    for s in sorted(summaries, key=lambda x: (x.run.start, SERVICES.index(x.run.service))):
        for path in s.files:
            lines.append(json.dumps({"path": path, **run_meta(s.run)}))
    return "\n".join(lines) + "\n"


def counts(results: Iterable[Result]) -> dict[str, int]:
    c = {"tests": 0, "passed": 0, "failed": 0, "skipped": 0, "flaky": 0}
    for res in results:
        c["tests"] += 1
        if res.skipped:
            c["skipped"] += 1
        elif res.failed:
            c["failed"] += 1
        else:
            c["passed"] += 1
        c["flaky"] += res.flaky
    return c


def run_list(folders: list[str]) -> str:
    return ", ".join(f"`{f}`" for f in folders) if folders else "none"


SERVICES_TABLE = (
    ("service", "language", "files per run, and the command that wrote them"),
    (
        "`user-service`",
        "Rust",
        "`junit.xml`: `cargo nextest run --profile ci` (nextest's JUnit, "
        "`target/nextest/ci/junit.xml`; profile `ci` has `retries = 2` and `slow-timeout = "
        '{ period = "30s", terminate-after = 2 }`); `cobertura.xml`: `cargo tarpaulin --out '
        "Xml`; `cargo-bench.txt`: `cargo bench --bench hot_paths` with Criterion.rs 0.5 "
        "(console output, 4 benchmarks)",
    ),
    (
        "`messaging-service`",
        "Rust",
        "`cargo-test.txt`: `cargo test --no-fail-fast 2>&1 \\| tee` (libtest human output: the "
        "lib's unit tests, `tests/integration.rs`, doc-tests); `cobertura.xml`: `cargo llvm-cov "
        "--cobertura`; `cargo-bench.txt`: `cargo bench --bench throughput` (libtest `#[bench]` "
        "lines, nightly toolchain)",
    ),
    (
        "`search-service`",
        "Python",
        "`junit.xml`: `pytest --junitxml` (pytest 8, xunit2, pytest-timeout 10 s); "
        "`coverage.xml`: coverage.py 7.6 `coverage xml` with `--branch`; `benchmark.json`: "
        "pytest-benchmark 4.0 `--benchmark-json`",
    ),
)


def run_row(s: RunSummary, folder: str) -> str:
    """One row of an `Every run` table."""
    c = counts(s.results)
    return (
        f"| `{folder}` | {s.run.run_id} | {s.run.attempt} | {s.run.branch} | "
        f"`{s.run.commit[:10]}` | {iso_z(s.run.start)} | {c['tests']} | {c['passed']} | "
        f"{c['failed']} | {c['skipped']} | {c['flaky']} | {100 * s.coverage:.1f}% |"
    )


def next_section(summaries: list[RunSummary], nxt: RunSummary) -> str:
    """The README's section on next/: the run `gatekeeper demo` gates, and what it holds."""
    run = nxt.run
    mains = [s for s in summaries if s.run.service == run.service and s.run.branch == "main"]
    last = max(mains, key=lambda s: s.run.start)
    c = counts(nxt.results)
    session = f"{US_API}::test_concurrent_session_refresh"
    red = [res for res in nxt.results if res.failed]
    assert [res.test.key for res in red] == [session] and len(red[0].attempts) == 3
    first_failure = red[0].attempts[0].failure
    assert first_failure is not None
    message = first_failure.text.splitlines()[0]
    broken = next(
        res.test for res in nxt.results if res.test.name.endswith("missing_user_returns_404")
    )
    assert not next(res for res in nxt.results if res.test is broken).any_failure
    state = coverage_state(run)
    new_files = [fc for fc in state if fc.file.first == run.n]
    assert len(new_files) == 1
    new = new_files[0]
    valid = sum(len(fc.hits) for fc in state)
    cov = sum(covered(fc) for fc in state)
    drop = 100 * (last.coverage - nxt.coverage)
    assert nxt.baseline is not None

    def est(r: Run, name: str) -> float:
        return criterion_estimate(r, next(b for b in CRITERION_BENCHES if b.name == name)).mid

    def median_of(name: str, runs: list[RunSummary]) -> float:
        return statistics.median(est(s.run, name) for s in runs)

    def t(ns: float) -> str:
        return criterion_time(ns).strip()

    ser = next(b for b in CRITERION_BENCHES if b.name == "serialize_user")
    ser_change = criterion_change_vs(run, nxt.baseline, ser)
    assert "regressed" in ser_change.verdict
    history = [s for s in mains if s.run.attempt == 1]  # main runs 01-30
    ser_now, ser_hist = est(run, "serialize_user"), median_of("serialize_user", history)
    since24 = [s for s in history if s.run.n >= 24]
    parse_now, parse_24 = est(run, "parse_request"), median_of("parse_request", since24)
    window = sorted(mains, key=lambda s: s.run.start)[-20:]  # benchmarks.window's default
    window_old = sum(1 for s in window if s.run.n < 24)
    noise = []
    for name in ("validate_email", "hash_password"):
        change = est(run, name) / median_of(name, history) - 1
        noise.append(f"`{name}` {t(est(run, name))} ({100 * change:+.1f}%)")
    meta = run_meta(run)
    flags = [f"--{k.replace('_', '-')} {v}" for k, v in meta.items() if k != "service"]
    flag_lines = " \\\n".join("    " + " ".join(flags[i : i + 2]) for i in range(0, len(flags), 2))

    def para(text: str, first: str = "", indent: str = "") -> str:
        return textwrap.fill(
            " ".join(text.split()),
            width=96,
            initial_indent=first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )

    items = [
        f"""**A flaky test fails, and is muted.** `{test_id(run.service, red[0].test)}` (the 15%
        flaky test) fails all three nextest attempts (`<failure>` plus two `<rerunFailure>`), as
        in `run-09`, with its usual message (``{message}``). The history makes it flaky, so after
        `gatekeeper classify` it is quarantined: the gate reports it as a muted failure and does
        not fail on it. It is the only failure: {c["tests"]} tests, {c["passed"]} passed,
        {c["failed"]} failed, {c["flaky"]} passed on retry (the other two flaky tests pass at the
        first attempt).""",
        f"""**The broken test is fixed.** `{test_id(run.service, broken)}`, red on every run
        since `run-21`, passes: this is the commit "{NEXT_MESSAGE}".""",
        f"""**Coverage falls below 75%.** A new module, `{new.file.path}` ({len(new.hits)}
        coverable lines, {covered(new)} covered), lands with almost no tests; the rest covers as
        before. Line coverage is **{100 * nxt.coverage:.1f}%** ({cov} of {valid} lines),
        {drop:.1f} points below `run-30` ({100 * last.coverage:.1f}%): under the 75% minimum,
        and far beyond the 0.5-point ratchet (`coverage.max_drop`).""",
        f"""**A fresh benchmark regression.** Criterion `serialize_user` takes {t(ser_now)},
        against a median of {t(ser_hist)} over main runs 01-30
        (**{100 * (ser_now / ser_hist - 1):+.0f}%**). Criterion itself, comparing with the
        saved results of `run-30`, printed `{criterion_change_line(ser_change)}` and
        "{ser_change.verdict}" `parse_request` ({t(parse_now)}) stays at its level since
        `run-24` (median {t(parse_24)}): noise, though the last {len(window)} main-branch runs
        before this push (the default `benchmarks.window`, counting the re-run of `run-22`)
        still hold {window_old} results from before the `run-24` step and {
            len(window) - window_old
        } after it. {noise[0]} and {noise[1]} are noise against their medians.""",
    ]
    intro = f"""`gatekeeper demo` ends with a gate verdict (`gatekeeper gate`) on one more run
    that is **not** part of the history above and not in `manifest.jsonl`: `run-{run.n}`, the
    next push to `main` after `run-30`, on Monday 23 November 2026, with the commit message
    "{NEXT_MESSAGE}". Its reports are in `{NEXT}/user-service/`: the same three files, in the
    same shape, as every user-service run above. `{NEXT}/meta.json` holds its metadata, one
    JSON object with the keys of a manifest line except `path`, so the demo can pass them as
    flags:"""
    return (
        "## The next push: what `gatekeeper demo` gates\n\n"
        + para(intro)
        + "\n\n"
        + "| folder | run_id | attempt | branch | commit | timestamp | tests | passed | failed"
        " | skipped | passed on retry | line coverage |\n"
        + "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        + run_row(nxt, f"run-{run.n}")
        + "\n\n"
        + para(
            "The demo runs the equivalent of this, against its fresh history and the registry"
            " that `classify` has just written:"
        )
        + "\n\n```sh\n"
        + f"gatekeeper gate sample_reports/{NEXT}/user-service --service {run.service} \\\n"
        + flag_lines
        + "\n```\n\nWhat is in it (the figures are computed from the files as written):\n\n"
        + "\n".join(para(x, f"{i}. ", "   ") for i, x in enumerate(items, 1))
        + "\n\n"
        + para(
            "The verdict the demo should show: **failed** (exit 1), on coverage and on"
            " `serialize_user`, not on the red test."
        )
        + "\n\n"
    )


def readme(summaries: list[RunSummary], nxt: RunSummary) -> str:
    by_service = {svc: [s for s in summaries if s.run.service == svc] for svc in SERVICES}

    def folders(
        svc: str, pred: Callable[[Result], bool], key: str, infra: bool = True
    ) -> list[str]:
        out = []
        for s in by_service[svc]:
            if not infra and (svc, s.run.folder) in INFRA_BURSTS:
                continue
            for res in s.results:
                if res.test.key == key and pred(res):
                    out.append(s.run.folder)
        return out

    def present_in(svc: str, key: str) -> int:
        return sum(
            1
            for s in by_service[svc]
            if (svc, s.run.folder) not in INFRA_BURSTS
            for res in s.results
            if res.test.key == key
        )

    def flaky_rows(svc: Service) -> list[str]:
        rows = []
        for key, fl in svc.flaky.items():
            t = next(x for x in svc.tests if x.key == key)
            hit = folders(svc.name, lambda x: x.any_failure, key, infra=False)
            final = folders(svc.name, lambda x: x.failed, key, infra=False)
            example = next(
                a.failure
                for s in by_service[svc.name]
                for res in s.results
                if res.test.key == key
                for a in res.attempts
                if a.failure is not None
            )
            msg = example.message or example.text or f"({example.kind}: no panic message)"
            msg = msg.splitlines()[0].replace("|", "\\|")
            n = present_in(svc.name, key)
            rows.append(
                f"| `{test_id(svc.name, t)}` | {fl.p:.0%} | {len(hit)} of {n}"
                f" | {run_list(hit)} | {run_list(final)} | {msg} |"
            )
        return rows

    def table(svc: str) -> list[str]:
        rows = [
            "| folder | run_id | attempt | branch | commit | timestamp | tests | passed | failed"
            " | skipped | passed on retry | line coverage |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        rows += [run_row(s, s.run.folder) for s in by_service[svc]]
        return rows

    def cov(svc: str, folder: str) -> str:
        s = next(x for x in by_service[svc] if x.run.folder == folder)
        return f"{100 * s.coverage:.1f}%"

    burst = next(s for s in by_service["messaging-service"] if s.run.folder == "run-17")
    burst_failed = [res for res in burst.results if res.failed]
    burst_ran = [res for res in burst.results if not res.skipped]
    us_broken = f"{US_API}::test_get_missing_user_returns_404"
    us_broken_runs = folders("user-service", lambda x: x.failed, us_broken)
    rank_key = "tests.test_query.TestRanking::test_phrase_match_outranks_terms"
    rank_runs = folders("search-service", lambda x: x.failed, rank_key)
    sessions = test_id("user-service", next(t for t in USER_TESTS if t.key.endswith("refresh")))
    added = next(t for t in USER_TESTS if t.first > 1)
    old_name = next(t for t in MESSAGING_TESTS if t.last < N_MAIN)
    new_name = next(t for t in MESSAGING_TESTS if t.first == 15)
    total_runs = len(summaries)
    services_table = markdown_table(SERVICES_TABLE)
    s07 = [s.run.start for s in by_service["search-service"] if s.run.n == 7 and not s.run.pr]
    rerun_minutes = int((s07[1] - s07[0]).total_seconds() // 60)
    verdicts: dict[str, list[str]] = {}
    for s in by_service["user-service"]:
        if s.baseline is None:
            continue
        for b in CRITERION_BENCHES:
            v = criterion_change_vs(s.run, s.baseline, b).verdict
            if "regressed" in v or "improved" in v:
                word = "regressed" if "regressed" in v else "improved"
                verdicts.setdefault(b.name, []).append(f"`{s.run.folder}` ({word})")
    criterion_said = "; ".join(f"`{k}`: {', '.join(v)}" for k, v in verdicts.items())
    text = (
        f"""\
# The sample CI history

A small, realistic history of one team's CI: three services of a monorepo
(`acme/platform`), 30 pushes to `main` between Friday 6 and Friday 20 November 2026 (one
commit per run, all three services tested on every push), three pull-request runs and three
re-runs — {total_runs} runs, {sum(len(s.files) for s in summaries)} report files. It
feeds `gatekeeper demo`, the documentation, and the tests of the features built on the history
(flaky-test classification, the coverage and benchmark gates, the weekly report).

Every file has the exact shape the real tool writes (compared with the real files in
`../shared/realworld`); only the projects are made up. The stories hidden in the data are
listed below, with the test ids gatekeeper gives them ([docs/test-ids.md](../docs/test-ids.md))
and the runs they happen in.

**Do not edit these files by hand.** They are written by `generate.py` (standard library only,
seeded `random.Random`, fixed dates, no clock), which also writes this README, `invalid/` and
`next/`:

```sh
python sample_reports/generate.py           # rewrite everything, then self-check it
python sample_reports/generate.py --check   # only check what is on disk
```

Running it twice gives byte-identical files. The self-check parses every XML file, checks that
JUnit counts match the test cases, that every Cobertura `line-rate` (and coverage.py's branch
counts) match the `<line>` elements, that every libtest `test result:` line matches the test
lines above it, that the benchmark files are consistent, and that the manifest points at every
report of the history and nothing else. The next push in `next/` gets the same checks, and must
stay out of the manifest.

## Layout and the manifest

```
sample_reports/
  manifest.jsonl                          one line per report file (the backfill format)
  <service>/run-NN/                       main run NN (01..30)
  <service>/run-NN-attempt-2/             a re-run of main run NN: same commit and run_id
  <service>/run-NN-pr-<name>/             a pull-request run, branched from main after run NN
  invalid/                                bad inputs, one per kind (see invalid/README.md)
  next/user-service/                      the next push after run-30, not in the manifest
  next/meta.json                          its run metadata (see "The next push" below)
  repository/                             the monorepo's paths (one-line stand-ins) and its
                                          .github/CODEOWNERS: the owners of the tests
```

`manifest.jsonl` is the input of `gatekeeper ingest --manifest sample_reports/manifest.jsonl`:
one JSON object per report file, keys `path` (relative to the manifest's folder), `service`,
`commit`, `branch`, `run_id`, `timestamp` (ISO 8601, UTC, `Z`) and `attempt`. Lines with the same
service, run_id and attempt form one run; the lines are in time order. Run ids look like GitHub
Actions run ids (one workflow per service); a re-run keeps its run id and has `attempt: 2`.
Commits are fake but well-formed 40-hex SHAs derived from the seed.

{services_table}

## The stories

### Flaky tests (fail at random, pass again on the same code)

`rate` is the chance per attempt the generator used; the runs are those where at least one
attempt failed, and those where the test's final outcome was a failure.

| test id | rate | runs with a failed attempt | those runs | final outcome failed in |  message |
| --- | --- | --- | --- | --- | --- |
"""
        + "\n".join(flaky_rows(USER))
        + f"""

user-service runs its tests with nextest retries: a failed attempt followed by a passing one is
written as `<flakyFailure>` inside a passing `<testcase>` (in-run evidence of flakiness). The
timeout of `api::test_login_rate_limit_window` is a `<flakyFailure type="test timeout">` with no
panic message (nextest killed the test after 60 s). In `run-09`, `{sessions}` failed all
three attempts (`<failure>` plus two `<rerunFailure>`): a red main run caused by a flaky test.

| test id | rate | runs with a failed attempt | those runs | final outcome failed in |  message |
| --- | --- | --- | --- | --- | --- |
"""
        + "\n".join(flaky_rows(MESSAGING))
        + """

messaging-service has no retries: each of these failures turned its run red. `run-17` is left
out of this table: there these tests failed because Redis was down (the infrastructure burst),
and `run-17-attempt-2` is forced green.

| test id | rate | runs with a failed attempt | those runs | final outcome failed in |  message |
| --- | --- | --- | --- | --- | --- |
"""
        + "\n".join(flaky_rows(SEARCH))
        + f"""

search-service: `run-07` failed on `tests.test_cache::test_query_cache_invalidation_on_update`
and `run-07-attempt-2` (same commit, re-run {rerun_minutes} minutes later) passed: the classic flaky
evidence, two outcomes for one commit. `run-19` ran with pytest-rerunfailures (`--reruns 1`):
`tests.test_api::test_suggest_endpoint` appears twice in its `junit.xml`, first with a
`<failure>` (connection reset), then passing; the testsuite's counts include both testcases.
The timeout of `TestIndexer::test_concurrent_writers` is pytest-timeout's
`Failed: Timeout (>10.0s) from pytest-timeout.`, and the failure texts of all of them contain
object addresses (`at 0x7f...`) that differ from run to run while the message stays the same.

### A broken test (a real regression, not flaky)

`api::test_get_missing_user_returns_404` (user-service) passes in runs 01-20 and fails on
every run from `run-21` on, always with the same assertion
(`left: 500`, `right: 404`, at `tests/api.rs:88:5`), and on every nextest retry (`<failure>`
plus two `<rerunFailure>`, never a `<flakyFailure>`). It fails in {len(us_broken_runs)} runs:
{run_list(us_broken_runs)}. `run-22-attempt-2` is a re-run of the same commit that fails the same
way, and the PR run `run-23-pr-request-id-header` (branched after run 23) fails it too.
A classifier must call this **broken**, not flaky.

### A regression fixed two runs later

`tests.test_query.TestRanking::test_phrase_match_outranks_terms` (search-service) fails in
{run_list(rank_runs)} only, with the same message
(`AssertionError: assert ['doc-7', 'doc-3', 'doc-12'] == ['doc-3', 'doc-7', 'doc-12']`), and
passes before and after: a regression that was fixed, which must not be called flaky.

### An infrastructure burst

In messaging-service `run-17` the Redis service container did not start:
{len(burst_failed)} of the {len(burst_ran)} tests that ran
({100 * len(burst_failed) / len(burst_ran):.0f}%) failed at once, all with
`{REDIS_DOWN}` (panicking in the shared test helper,
`src/test_support.rs:27:14` or `tests/common/mod.rs:19:10`); the codec, router and doc tests,
which do not need Redis, passed. Coverage of that run dropped to {
            cov("messaging-service", "run-17")
        }, because most code never ran. `run-17-attempt-2` (same commit and run_id, attempt 2)
passed everything, with coverage back at {cov("messaging-service", "run-17-attempt-2")}. One
failure cause for many tests at once is an infrastructure problem: none of those tests is flaky
because of it, and the coverage of a red run is not a baseline.

### Tests that come and go

- **Added:** `{test_id("user-service", added)}` (user-service) first appears in `run-{
            added.first:02d}`
  (38 tests before, 39 from then on).
- **Renamed:** in messaging-service `run-15`, `{test_id("messaging-service", old_name)}` became
  `{test_id("messaging-service", new_name)}` (same test, same place in `src/queue/mod.rs`): the old
  id's last run is `run-14`.
- **On a branch only:** `messaging_service::queue::tests::test_batch_ack_partial_failure` exists
  only in the PR run `run-08-pr-batch-ack`, where it fails (that pull request was closed
  unmerged). A failure on a PR branch is not evidence about `main`.
- **Skipped / ignored, every run:** messaging-service
  `messaging_service::redis_store::tests::test_cluster_failover` (`ignored, needs a Redis
  Cluster; ...`) and `messaging_service::tests::test_throughput_soak` (`ignored, slow: ...`);
  search-service `tests.test_api::test_search_with_elasticsearch_backend` (`pytest.skip`:
  `ELASTICSEARCH_URL not set`) and `tests.test_query.TestParsing::test_fuzzy_operator`
  (`pytest.xfail`). nextest does not write skipped tests to its JUnit, so user-service has none.
- **Toolchain bump:** messaging-service's nightly toolchain was updated at `run-20`: cargo's
  `Finished test [...]` line becomes ``Finished `test` profile [...]``, the test binaries get new
  hashes, and libtest's bench lines switch from `1,234 ns/iter (+/- 56)` to the decimal form
  `1,234.56 ns/iter (+/- 56.78)`. The ids do not change.

### Coverage

- user-service (tarpaulin, lines only): drifts from {cov("user-service", "run-01")} (`run-01`) to
  {cov("user-service", "run-30")} (`run-30`). Its report lists an empty `tests` package (tarpaulin
  does), and `src/main.rs` is never covered.
- messaging-service (llvm-cov, lines only): {cov("messaging-service", "run-01")} to
  {cov("messaging-service", "run-30")}, except `run-17` ({cov("messaging-service", "run-17")},
  the infrastructure burst). `src/router/trie.rs` appears from `run-12`.
- search-service (coverage.py, lines and branches): {cov("search-service", "run-01")} to
  {cov("search-service", "run-24")} by `run-24`, then **a drop of about 3 points at `run-25`**
  ({cov("search-service", "run-25")}): the synonyms feature (`search_service/synonyms.py`, 16
  statements, barely tested) was merged. Its PR run `run-24-pr-synonyms` already showed the
  drop ({cov("search-service", "run-24-pr-synonyms")}): patch coverage of that PR is low. Ends at
  {cov("search-service", "run-30")}. `__init__.py` files with no statements are listed with
  `<lines/>` and `line-rate="1"`, as coverage.py writes them.

### Benchmarks

- **Regression:** user-service `parse_request` (Criterion) takes about 1.84 µs with ~2%
  run-to-run noise, and about 2.30 µs (**+25%**) from `run-24` on, when the request-id-header
  branch was merged; its PR run `run-23-pr-request-id-header` shows it first.
- **Improvement:** messaging-service `bench_route_wildcard_1k_subs` (libtest `#[bench]`) drops
  from about 18,400 to about 11,000 ns/iter (**-40%**) at `run-12`, when the trie router landed.
- Everything else is noise (1.5-3% from run to run): Criterion `validate_email`,
  `serialize_user`, `hash_password` (10 samples of ~12.4 ms); libtest
  `bench_decode_small_frame`, `bench_encode_small_frame`, `bench_publish_batch_100`;
  pytest-benchmark `tests/benchmarks/test_bench.py::test_bench_query_simple`, `...query_phrase`,
  `...index_1k_docs` (~84 ms, only about 11 rounds) and `...tokenize_paragraph` (pytest-benchmark
  names a benchmark by its `fullname`; times are in seconds there, `ns/iter` in libtest).
- Criterion compares each run with the previous one (the CI caches `target/criterion`) and
  prints its own verdict. Like on any shared runner, a few of those verdicts are noise; a gate
  should not trust a single `p < 0.05`. Where it printed "Performance has regressed." or
  "... improved.": {criterion_said}.

## Every run

### user-service

"""
        + "\n".join(table("user-service"))
        + """

### messaging-service

"""
        + "\n".join(table("messaging-service"))
        + """

### search-service

"""
        + "\n".join(table("search-service"))
        + """

`tests` counts each test once, by its final attempt; `passed on retry` counts the tests that
failed and then passed within the run.

"""
        + next_section(summaries, nxt)
        + """\
## How close to the real tools

Exact, from the real files in `../shared/realworld`: nextest's JUnit (quick-junit layout,
`<flakyFailure>`/`<rerunFailure>` with their own `system-out`/`system-err`, `&apos;` escapes,
timestamps, no skipped tests), libtest's human output (panic blocks, the backtrace note once per
process, failure lists, `test result:` lines, cargo's `error: N targets failed` trailer),
tarpaulin's one-line Cobertura with Rust float formatting, llvm-cov's pretty-printed Cobertura
with its DOCTYPE, alphabetical attributes and methods, coverage.py's minidom output with
`%.4g` rates and branch attributes, Criterion's console format, libtest's bench lines (both
forms), pytest's single-line JUnit and pytest-benchmark's JSON and statistics.

Made up or simplified: the projects, the numbers and the messages; pytest-benchmark's `cpu`
section is shortened. The pytest rerun in `run-19` is written one `<testcase>` per attempt, the
shape of the corpus files `action-junit-report__pytest_rerun_*.xml`; released
pytest-rerunfailures versions write reruns differently (up to 16.6 only the final attempt, in
16.6.1 an empty `<testcase>` per earlier attempt), so treat it as "a JUnit producer that
repeats the testcase per attempt".
"""
    )
    return text


# ---------------------------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------------------------


class CheckError(Exception):
    pass


def expect(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise CheckError(f"{where}: {what}")


def check_junit(path: str, text: str) -> int:
    root = ET.fromstring(text.encode())
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    n_all = f_all = e_all = 0
    for suite in suites:
        cases = suite.findall("testcase")
        f = sum(1 for c in cases if c.find("failure") is not None)
        e = sum(1 for c in cases if c.find("error") is not None)
        s = sum(1 for c in cases if c.find("skipped") is not None)
        expect(int(suite.get("tests", -1)) == len(cases), path, "testsuite tests != testcases")
        expect(int(suite.get("failures", -1)) == f, path, "testsuite failures != <failure>s")
        expect(int(suite.get("errors", -1)) == e, path, "testsuite errors != <error>s")
        if suite.get("skipped") is not None:
            expect(int(suite.get("skipped", -1)) == s, path, "testsuite skipped != <skipped>s")
        for c in cases:
            expect(bool(c.get("name")) and bool(c.get("classname")), path, "testcase w/o name")
            if c.find("flakyFailure") is not None:
                expect(c.find("failure") is None, path, "flakyFailure in a failed testcase")
        n_all, f_all, e_all = n_all + len(cases), f_all + f, e_all + e
    if root.tag == "testsuites" and root.get("tests") is not None:
        expect(int(root.get("tests", -1)) == n_all, path, "testsuites tests != testcases")
        expect(int(root.get("failures", -1)) == f_all, path, "testsuites failures mismatch")
        expect(int(root.get("errors", -1)) == e_all, path, "testsuites errors mismatch")
    return n_all


def check_rate(path: str, el: ET.Element, attr: str, hit: int, num: int, py: bool) -> None:
    written = el.get(attr)
    want = py_rate(hit, num) if py else (rust_float(hit / num) if num else "0")
    expect(written == want, path, f"{el.tag} {attr}={written!r}, the lines give {want!r}")


def check_cobertura(path: str, text: str) -> None:
    root = ET.fromstring(text.encode())
    py = "coverage.py" in text
    tot_v = tot_c = tot_bv = tot_bc = 0
    for pkg in root.iter("package"):
        pv = pc = pbv = pbc = 0
        for cls in pkg.iter("class"):
            lines_el = cls.find("lines")
            lines = [] if lines_el is None else lines_el.findall("line")
            nums = [int(x.get("number", 0)) for x in lines]
            expect(nums == sorted(set(nums)), path, f"{cls.get('filename')}: lines not sorted")
            v = len(lines)
            c = sum(1 for x in lines if int(x.get("hits", 0)) > 0)
            bv = bc = 0
            for x in lines:
                cond = x.get("condition-coverage")
                if cond:
                    m = re.fullmatch(r"(\d+)% \((\d+)/(\d+)\)", cond)
                    expect(m is not None, path, f"bad condition-coverage {cond!r}")
                    assert m is not None
                    bc, bv = bc + int(m[2]), bv + int(m[3])
                    expect(int(m[1]) == 100 * int(m[2]) // int(m[3]), path, "condition %")
            if py or v:
                check_rate(path, cls, "line-rate", c, v, py)
            if py:
                check_rate(path, cls, "branch-rate", bc, bv, py)
            pv, pc, pbv, pbc = pv + v, pc + c, pbv + bv, pbc + bc
        check_rate(path, pkg, "line-rate", pc, pv, py)
        if py:
            check_rate(path, pkg, "branch-rate", pbc, pbv, py)
        tot_v, tot_c, tot_bv, tot_bc = tot_v + pv, tot_c + pc, tot_bv + pbv, tot_bc + pbc
    expect(int(root.get("lines-valid", -1)) == tot_v, path, "lines-valid != <line>s")
    expect(int(root.get("lines-covered", -1)) == tot_c, path, "lines-covered != covered <line>s")
    check_rate(path, root, "line-rate", tot_c, tot_v, py)
    if py:
        expect(int(root.get("branches-valid", -1)) == tot_bv, path, "branches-valid mismatch")
        expect(int(root.get("branches-covered", -1)) == tot_bc, path, "branches-covered")
        check_rate(path, root, "branch-rate", tot_bc, tot_bv, py)


_RUNNING = re.compile(r"^running (\d+) tests?$")
_RESULT = re.compile(
    r"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured; "
    r"(\d+) filtered out; finished in [\d.]+s$"
)
_LINE = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored(?:, .*)?|bench: +[\d,.]+ ns/iter .*)$")


def check_libtest(path: str, text: str, complete: bool = True) -> int:
    """Every `running N tests` block: N result lines, and a `test result:` line that agrees."""
    block: list[str] | None = None
    expected = blocks = 0
    for line in text.splitlines():
        m = _RUNNING.match(line)
        if m:
            expect(block is None, path, "a `running` line inside a block")
            block, expected = [], int(m[1])
            continue
        if block is None:
            continue
        t = _LINE.match(line)
        if t:
            block.append(t[2])
            continue
        r = _RESULT.match(line)
        if r:
            outcomes = block
            passed = outcomes.count("ok")
            failed = outcomes.count("FAILED")
            ignored = sum(1 for o in outcomes if o.startswith("ignored"))
            measured = sum(1 for o in outcomes if o.startswith("bench:"))
            expect(len(outcomes) == expected, path, f"running {expected}, {len(outcomes)} lines")
            got = (int(r[2]), int(r[3]), int(r[4]), int(r[5]))
            expect(got == (passed, failed, ignored, measured), path, f"test result {got}")
            expect((r[1] == "FAILED") == (failed > 0), path, "test result verdict")
            block = None
            blocks += 1
    if complete:
        expect(block is None and blocks > 0, path, "a block without its `test result:` line")
    return blocks


def check_criterion(path: str, text: str) -> None:
    triples = re.findall(
        r"^(\S+) +time: +\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]$", text, re.M
    )
    expect(len(triples) == len(CRITERION_BENCHES), path, "one time: line per benchmark")
    scale = {"ns": 1.0, "µs": 1e3, "ms": 1e6}
    for name, *vals in triples:
        lo, mid, hi = (float(vals[i]) * scale[vals[i + 1]] for i in (0, 2, 4))
        expect(lo <= mid <= hi, path, f"{name}: low <= estimate <= high")


def check_pytest_benchmark(path: str, text: str) -> None:
    doc = json.loads(text)
    expect(len(doc["benchmarks"]) == len(PYTEST_BENCHES), path, "benchmark count")
    for b in doc["benchmarks"]:
        s = b["stats"]
        expect(s["min"] <= s["q1"] <= s["median"] <= s["q3"] <= s["max"], path, "quartiles")
        expect(s["min"] <= s["mean"] <= s["max"], path, "mean within min..max")
        expect(abs(s["ops"] * s["mean"] - 1) < 1e-9, path, "ops == 1/mean")


def check_report(root: Path, p: Path) -> tuple[int, list[str]]:
    """Check one report file: (its JUnit test cases, its problems)."""
    rel = p.relative_to(root).as_posix()
    text = p.read_text(encoding="utf-8")
    n_tests = 0
    try:
        if p.name == "junit.xml":
            n_tests = check_junit(rel, text)
        elif p.name in ("cobertura.xml", "coverage.xml"):
            check_cobertura(rel, text)
        elif p.name == "cargo-test.txt":
            expect(check_libtest(rel, text) == 3, rel, "three test binaries")
        elif p.name == "cargo-bench.txt" and "time:   [" in text:
            check_criterion(rel, text)
        elif p.name == "cargo-bench.txt":
            expect(check_libtest(rel, text) == 1, rel, "one bench binary")
        elif p.name == "benchmark.json":
            check_pytest_benchmark(rel, text)
        else:
            return 0, [f"{rel}: unexpected file"]
    except CheckError as err:
        return n_tests, [str(err)]
    except (ET.ParseError, ValueError, KeyError) as err:
        return n_tests, [f"{rel}: {err}"]
    return n_tests, []


def shape(p: Path) -> str:
    """Which tool wrote a report, as far as the self-check can tell from its first bytes."""
    text = p.read_text(encoding="utf-8")
    for mark, tool in (
        ('<testsuites name="nextest-run"', "nextest"),
        ('<?xml version="1.0"?><coverage ', "tarpaulin"),
        ("time:   [", "criterion"),
    ):
        if mark in text:
            return f"{p.name}:{tool}"
    return f"{p.name}:other"


def check_next(root: Path, manifest: list[dict[str, object]]) -> tuple[list[str], int]:
    """next/: the next push, checked like a history run and kept out of the history."""
    problems: list[str] = []
    nxt = root / NEXT
    meta_path = nxt / "meta.json"
    svc_dir = nxt / "user-service"
    got = sorted(p.relative_to(nxt).as_posix() for p in nxt.rglob("*") if p.is_file())
    want = [
        "meta.json",
        *(f"user-service/{n}" for n in ("cargo-bench.txt", "cobertura.xml", "junit.xml")),
    ]
    if got != want:
        return [f"{NEXT}/: holds {got}, expected {want}"], 0
    n_tests = 0
    for p in sorted(svc_dir.iterdir()):
        n, bad = check_report(root, p)
        n_tests += n
        problems += bad
    # the same three files, written by the same tools, as every user-service run of the history
    history_shapes = {
        tuple(sorted(shape(p) for p in d.iterdir())) for d in (root / "user-service").iterdir()
    }
    next_shapes = tuple(sorted(shape(p) for p in svc_dir.iterdir()))
    if history_shapes != {next_shapes}:
        problems.append(f"{NEXT}/user-service: files {next_shapes}, history {history_shapes}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as err:
        return [*problems, f"{NEXT}/meta.json: {err}"], n_tests
    keys = ["service", "commit", "branch", "run_id", "timestamp", "attempt"]
    if not isinstance(meta, dict) or list(meta) != keys:
        return [*problems, f"{NEXT}/meta.json: not one object with keys {keys}"], n_tests
    where = f"{NEXT}/meta.json"
    if meta["service"] != "user-service" or meta["branch"] != "main":
        problems.append(f"{where}: not a user-service run on main")
    if not re.fullmatch(r"[0-9a-f]{40}", str(meta["commit"])):
        problems.append(f"{where}: commit is not 40 hex digits")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(meta["timestamp"])):
        problems.append(f"{where}: timestamp {meta['timestamp']!r}")
    if not (isinstance(meta["run_id"], str) and meta["run_id"].isdigit()):
        problems.append(f"{where}: run_id {meta['run_id']!r} is not a string of digits")
    if meta["attempt"] != 1:
        problems.append(f"{where}: attempt {meta['attempt']!r}, expected 1")
    if any(d["commit"] == meta["commit"] for d in manifest):
        problems.append(f"{where}: its commit is in manifest.jsonl")
    if any((d["service"], d["run_id"]) == (meta["service"], meta["run_id"]) for d in manifest):
        problems.append(f"{where}: its run is in manifest.jsonl")
    ours = [d for d in manifest if d["service"] == meta["service"]]
    if not all(str(d["run_id"]) < str(meta["run_id"]) for d in ours):
        problems.append(f"{where}: run_id is not after the history's")
    if not all(str(d["timestamp"]) < str(meta["timestamp"]) for d in manifest):
        problems.append(f"{where}: timestamp is not after the history's")
    return problems, n_tests


def check(root: Path) -> list[str]:
    """Validate everything on disk; returns a few lines of summary."""
    problems: list[str] = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "generate.py")
    reports = [p for p in files if p.parts[len(root.parts)] in SERVICES]
    size = sum(p.stat().st_size for p in files)
    expect(size < MAX_BYTES, str(root), f"{size} bytes, over the {MAX_BYTES} budget")
    n_tests = 0
    for p in reports:
        n, bad = check_report(root, p)
        n_tests += n
        problems += bad
    # the manifest names every report once, and nothing else
    listed: list[str] = []
    runs: dict[tuple[str, str, int], set[str]] = {}
    entries: list[dict[str, object]] = []
    for i, line in enumerate((root / "manifest.jsonl").read_text().splitlines(), 1):
        d = json.loads(line)
        entries.append(d)
        keys = ["path", "service", "commit", "branch", "run_id", "timestamp", "attempt"]
        if list(d) != keys:
            problems.append(f"manifest.jsonl:{i}: keys {list(d)}")
        if not re.fullmatch(r"[0-9a-f]{40}", d["commit"]):
            problems.append(f"manifest.jsonl:{i}: commit is not 40 hex digits")
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["timestamp"]):
            problems.append(f"manifest.jsonl:{i}: timestamp {d['timestamp']!r}")
        listed.append(d["path"])
        runs.setdefault((d["service"], d["run_id"], d["attempt"]), set()).add(
            d["path"].rsplit("/", 1)[0]
        )
    if sorted(listed) != sorted(p.relative_to(root).as_posix() for p in reports):
        problems.append("manifest.jsonl does not list exactly the report files")
    problems += [
        f"manifest.jsonl: run {k} spans folders {sorted(v)}" for k, v in runs.items() if len(v) != 1
    ]
    problems += [f"manifest.jsonl: lists {p}" for p in listed if p.startswith(f"{NEXT}/")]
    next_problems, next_tests = check_next(root, entries)
    problems += next_problems
    # the bad inputs are bad in the intended way (never parse the entity bombs here)
    inv = root / "invalid"
    for name in ("truncated.xml", "not_xml.xml", "cobertura_truncated.xml"):
        try:
            ET.fromstring((inv / name).read_bytes())
            problems.append(f"invalid/{name}: parses as XML")
        except ET.ParseError:
            pass
    if (inv / "empty.xml").stat().st_size != 0:
        problems.append("invalid/empty.xml: not empty")
    for name in ("billion_laughs.xml", "xxe.xml"):
        if "<!ENTITY" not in (inv / name).read_text():
            problems.append(f"invalid/{name}: no entity declaration")
    if check_junit("invalid/zero_tests.xml", (inv / "zero_tests.xml").read_text()) != 0:
        problems.append("invalid/zero_tests.xml: has test cases")
    try:
        check_libtest("x", (inv / "cargo_no_result_line.txt").read_text(), complete=False)
        if "test result:" in (inv / "cargo_no_result_line.txt").read_text():
            problems.append("invalid/cargo_no_result_line.txt: has a test result line")
    except CheckError as err:
        problems.append(f"invalid/cargo_no_result_line.txt: {err}")
    if problems:
        raise CheckError("\n".join(problems))
    return [
        f"{len(reports)} report files in {len(runs)} runs, {n_tests} JUnit test cases",
        f"{NEXT}/: the next push (not in the manifest), 3 report files, {next_tests} JUnit test "
        "cases, and meta.json",
        f"{size:,} bytes in total (budget {MAX_BYTES:,})",
    ]


# ---------------------------------------------------------------------------------------------


def write_all(root: Path) -> None:
    reports, summaries, runs = generate()
    nxt, nxt_summary = generate_next(summaries)
    for name in OUTPUTS:  # only what this script writes; never generate.py
        target = root / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    outputs = dict(reports)
    outputs["manifest.jsonl"] = manifest(summaries)
    outputs["README.md"] = readme(summaries, nxt_summary)
    for name, text in invalid_files(runs, reports).items():
        outputs[f"invalid/{name}"] = text
    outputs.update(nxt)
    outputs.update(repository())
    for rel, text in outputs.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only validate what is on disk")
    args = parser.parse_args(argv)
    if not args.check:
        write_all(HERE)
    try:
        for line in check(HERE):
            print(line)
    except CheckError as err:
        print(f"sample_reports: self-check failed:\n{err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
