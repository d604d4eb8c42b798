"""Run metadata from the CI environment: each provider's real variable names."""

from __future__ import annotations

import pytest

from gatekeeper import ci


def test_outside_ci_nothing_is_known() -> None:
    assert ci.detect({"HOME": "/root", "PATH": "/bin"}) == ci.CIMeta()


def test_github_actions_push() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_REF_NAME": "main",
        "GITHUB_HEAD_REF": "",
        "GITHUB_RUN_ID": "7001",
        "GITHUB_JOB": "user-service-tests",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "nova/platform",
    }
    meta = ci.detect(env)
    assert (meta.provider, meta.commit, meta.branch, meta.run_id, meta.attempt) == (
        "github-actions",
        "a" * 40,
        "main",
        "7001/user-service-tests",
        2,
    )
    assert meta.url == "https://github.com/nova/platform/actions/runs/7001"


def test_github_pull_request_uses_the_head_branch_not_the_merge_ref() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF_NAME": "123/merge",
        "GITHUB_HEAD_REF": "fix-login",
        "GITHUB_RUN_ID": "1",
    }
    assert ci.detect(env).branch == "fix-login"


def test_gitlab_merge_request_and_job_id() -> None:
    env = {
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": "b" * 40,
        "CI_COMMIT_REF_NAME": "refs/merge-requests/5/head",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
        "CI_JOB_ID": "555",
        "CI_PIPELINE_ID": "77",
        "CI_JOB_URL": "https://gitlab.example/j/555",
    }
    meta = ci.detect(env)
    assert (meta.provider, meta.branch, meta.run_id, meta.attempt) == (
        "gitlab-ci",
        "feature",
        "555",
        None,
    )


def test_buildkite_retry_count_is_zero_based() -> None:
    env = {
        "BUILDKITE": "true",
        "BUILDKITE_COMMIT": "c" * 40,
        "BUILDKITE_BRANCH": "main",
        "BUILDKITE_BUILD_ID": "0190-abc",
        "BUILDKITE_STEP_KEY": "user-service-tests",
        "BUILDKITE_RETRY_COUNT": "0",
    }
    meta = ci.detect(env)
    assert meta.attempt == 1
    assert meta.run_id == "0190-abc/user-service-tests"
    assert ci.detect({**env, "BUILDKITE_RETRY_COUNT": "2"}).attempt == 3


def test_circleci() -> None:
    env = {
        "CIRCLECI": "true",
        "CIRCLE_SHA1": "d" * 40,
        "CIRCLE_BRANCH": "dev",
        "CIRCLE_BUILD_NUM": "9",
    }
    meta = ci.detect(env)
    assert (meta.provider, meta.commit, meta.branch, meta.run_id) == (
        "circleci",
        "d" * 40,
        "dev",
        "9",
    )


def test_jenkins_strips_the_remote_from_git_branch() -> None:
    env = {
        "JENKINS_URL": "https://ci.example/",
        "GIT_COMMIT": "e" * 40,
        "GIT_BRANCH": "origin/release-1.2",
        "BUILD_TAG": "jenkins-nova-user-service-41",
        "BUILD_URL": "https://ci.example/job/41/",
    }
    meta = ci.detect(env)
    assert (meta.provider, meta.branch, meta.run_id) == (
        "jenkins",
        "release-1.2",
        "jenkins-nova-user-service-41",
    )
    # a multibranch pipeline's BRANCH_NAME wins over GIT_BRANCH
    assert ci.detect({**env, "BRANCH_NAME": "main"}).branch == "main"


def test_garbage_attempt_is_ignored() -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": "x"}
    assert ci.detect(env).attempt is None


@pytest.mark.parametrize("raw", ["x", "²", "٣", "99999999999999999999", ""])
def test_an_attempt_that_is_not_a_plain_number_is_ignored(raw: str) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": raw}
    assert ci.detect(env).attempt is None
