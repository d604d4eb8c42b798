"""Owners from CODEOWNERS, on a fixture repository (a real git checkout) with the sample
history: globs, folder rules, a later rule overriding an earlier one, GitLab sections; for
JUnit reports with a ``file`` attribute, pytest (dotted suites) and cargo tests (crate and
module path). The expected owners are written here by hand from the rules below."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from gatekeeper.api import Gatekeeper, code_owners
from gatekeeper.config import Settings
from gatekeeper.errors import ConfigError
from gatekeeper.owners import parse

from ..cli import gatekeeper
from ..test_cli_classify import history_db

CODEOWNERS = """\
# everything: the platform team, unless a later rule says otherwise
*                                   @acme/platform
# Rust anywhere: the rust guild
*.rs                                @acme/rust-guild
# folder rules, later than *.rs: they win for the files under them
/services/messaging/                @acme/team-messaging
services/user/                      @acme/team-identity
# a narrower rule after the folder rule wins for its file
services/user/src/cache.rs          @carol @acme/team-cache
# a glob with a single star stays in its folder
/services/search/tests/test_*.py    @acme/team-search
/services/search/tests/test_index.py @dave  # the indexer's author
# JUnit with a file attribute (Java)
src/test/java/**/billing/           @acme/team-billing
"""

FILES = {
    "services/user/Cargo.toml": '[package]\nname = "user-service"\nversion = "0.1.0"\n',
    "services/user/src/lib.rs": "mod cache;\n",
    "services/user/src/cache.rs": "",
    "services/user/tests/api.rs": "",
    "services/messaging/Cargo.toml": '[package]\nname = "messaging-service"\nversion = "0.1.0"\n',
    "services/messaging/src/lib.rs": "",
    "services/messaging/tests/integration.rs": "",
    "services/search/tests/__init__.py": "",
    "services/search/tests/test_api.py": "",
    "services/search/tests/test_cache.py": "",
    "services/search/tests/test_index.py": "",
    "services/search/app/search.py": "",
    "src/test/java/com/acme/billing/InvoiceTest.java": "",
    "src/test/java/com/acme/shipping/ParcelTest.java": "",
}

# (service, test id, expected owner): one row per rule the lookup must follow
EXPECTED = [
    # cargo: unit tests by crate and module (services/user/src/cache.rs: the narrower rule)
    ("user-service", "user_service::cache::tests::test_ttl_expiry", "@carol @acme/team-cache"),
    # cargo: an integration-test target (services/user/tests/api.rs: the folder rule)
    ("user-service", "api::test_concurrent_session_refresh", "@acme/team-identity"),
    ("user-service", "api::test_login_rate_limit_window", "@acme/team-identity"),
    ("messaging-service", "integration::test_redelivery_after_consumer_crash",
     "@acme/team-messaging"),
    ("messaging-service", "messaging_service::tests::test_concurrent_message_delivery",
     "@acme/team-messaging"),
    ("messaging-service", "integration::test_backpressure_blocks_publisher",
     "@acme/team-messaging"),
    # pytest: dotted suites (test_*.py glob; test_index.py overridden by the later line)
    ("search-service", "tests.test_cache::test_query_cache_invalidation_on_update",
     "@acme/team-search"),
    ("search-service", "tests.test_api::test_suggest_endpoint", "@acme/team-search"),
    ("search-service", "tests.test_index.TestIndexer::test_concurrent_writers", "@dave"),
]  # fmt: skip

JUNIT = """\
<testsuites>
  <testsuite name="billing" tests="2">
    <testcase classname="com.acme.billing.InvoiceTest" name="totals"
              file="src/test/java/com/acme/billing/InvoiceTest.java" time="0.1"/>
    <testcase classname="com.acme.shipping.ParcelTest" name="weighs"
              file="/home/runner/work/acme/acme/src/test/java/com/acme/shipping/ParcelTest.java"
              time="0.1"/>
  </testsuite>
</testsuites>
"""


def _repository(root: Path) -> Path:
    for name, text in {**FILES, ".github/CODEOWNERS": CODEOWNERS}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = _repository(tmp_path_factory.mktemp("acme"))
    db = history_db(tmp_path_factory.mktemp("owners-history"))
    (root / "junit.xml").write_text(JUNIT, encoding="utf-8")
    done = gatekeeper(
        "ingest", "junit.xml", "--service", "billing", "--run-id", "1", "--commit", "abc",
        "--branch", "main", "--db", db, cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root, db


def test_classify_gives_each_new_quarantine_its_owner(
    tmp_path: Path, repo: tuple[Path, str]
) -> None:
    root, db = repo
    registry = tmp_path / "flaky-tests.yml"
    hand = (
        "flaky_tests:\n"
        '  - name: "tests.test_index.TestIndexer::test_concurrent_writers"\n'
        "    service: search-service\n"
        '    reason: "lock contention"\n'
        "    owner: bob\n"
    )
    registry.write_text(hand, encoding="utf-8")
    done = gatekeeper("classify", "--db", db, "--registry", str(registry), cwd=root / "services")
    assert done.returncode == 0, done.stderr
    entries = {e["name"]: e for e in yaml.safe_load(registry.read_text())["flaky_tests"]}
    expected = {name: owner for _, name, owner in EXPECTED}
    expected["tests.test_index.TestIndexer::test_concurrent_writers"] = "bob"  # a person's
    assert {n: e.get("owner") for n, e in entries.items()} == expected
    listed = gatekeeper("quarantine", "list", "--registry", str(registry), cwd=root)
    assert "@acme/team-messaging" in listed.stdout and "bob" in listed.stdout


@pytest.mark.parametrize(("service", "test_id", "owner"), EXPECTED)
def test_owner_of_a_history_test(
    repo: tuple[Path, str], service: str, test_id: str, owner: str
) -> None:
    root, db = repo
    gk = Gatekeeper(Settings(db_url=db), env={}, cwd=root)
    try:
        assert code_owners(gk, [(service, test_id)]) == {(service, test_id): owner}
    finally:
        gk.close()


@pytest.mark.parametrize(
    ("test_id", "owner"),
    [
        # the report's file attribute, relative: the folder rule with **
        ("com.acme.billing.InvoiceTest::totals", "@acme/team-billing"),
        # absolute, from another checkout: matched by its tail; only the catch-all owns it
        ("com.acme.shipping.ParcelTest::weighs", "@acme/platform"),
    ],
)
def test_owner_from_a_junit_file_attribute(
    repo: tuple[Path, str], test_id: str, owner: str
) -> None:
    root, db = repo
    gk = Gatekeeper(Settings(db_url=db), env={}, cwd=root)
    try:
        assert code_owners(gk, [("billing", test_id)]) == {("billing", test_id): owner}
    finally:
        gk.close()


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("@a",)),
        ("docs/guide.md", ("@docs",)),  # docs/* : one level only
        ("docs/deep/guide.md", ("@a",)),
        ("app/logs/x.log", ("@ops",)),  # a pattern without a slash matches at any depth
        ("build/out", ()),  # a rule without owners: unowned
        ("api/v1.py", ("@a", "@backend-default")),  # a GitLab section's default owners
        ("api/internal/x.py", ("@a", "@eve")),
        ("my file.txt", ("@spaces",)),  # an escaped space
    ],
)
def test_rules(path: str, owners: tuple[str, ...]) -> None:
    rules = parse(
        "* @a\n"
        "docs/* @docs\n"
        "logs/ @ops\n"
        "/build/\n"
        "my\\ file.txt @spaces\n"
        "[Backend][2] @backend-default\n"
        "/api/\n"
        "/api/internal/ @eve\n"
    )
    assert rules.owners_of(path) == owners


def test_a_negated_pattern_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError, match=r"^CODEOWNERS:2: '!x': CODEOWNERS has no negated"):
        parse("* @a\n!x @b\n")


def test_the_report_names_the_owner_of_every_failing_test(repo: tuple[Path, str]) -> None:
    """No registry: every owner in the report comes from CODEOWNERS."""
    root, db = repo
    done = gatekeeper(
        "report", "--since", "2026-11-14", "--until", "2026-11-21", "--format", "json",
        "--db", db, cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    expected = {test_id: owner for _, test_id, owner in EXPECTED}
    flakiest = {i["test_id"]: i["owner"] for i in report["flakiest"]}
    assert flakiest and all(expected[t] == o for t, o in flakiest.items()), flakiest
    # the broken test: user-service's integration tests (services/user/tests/api.rs)
    [broken] = report["broken"]
    assert (broken["test_id"], broken["owner"]) == (
        "api::test_get_missing_user_returns_404",
        "@acme/team-identity",
    )


def test_a_pattern_gitignore_refuses_is_an_error_with_its_line() -> None:
    with pytest.raises(ConfigError, match=r"^CODEOWNERS:3: '\\\\' is not a valid pattern"):
        parse("* @a\n\n\\\n")  # a lone backslash
