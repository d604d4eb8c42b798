"""Run metadata from the CI environment (GitHub Actions, GitLab CI, Buildkite, CircleCI, Jenkins).

Pure: an environment mapping in, the fields that CI states out. The API merges these under the
command-line flags and above what ``git`` says (docs/ingest.md, "Where run metadata comes from").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CIMeta:
    provider: str | None = None
    commit: str | None = None
    branch: str | None = None
    run_id: str | None = None
    attempt: int | None = None
    url: str | None = None


def _int(value: str | None, offset: int = 0) -> int | None:
    value = None if value is None else value.strip()
    if not value or not value.isascii() or not value.isdigit() or len(value) > 9:
        return None  # isdigit() alone takes "²"; ten digits is not an attempt number
    return int(value) + offset


def _strip_remote(branch: str | None) -> str | None:
    # Jenkins' GIT_BRANCH is "origin/main"; refs may come as refs/heads/main
    if not branch:
        return None
    for prefix in ("refs/heads/", "origin/"):
        if branch.startswith(prefix):
            return branch[len(prefix) :]
    return branch


def _github(env: Mapping[str, str]) -> CIMeta:
    workflow_run = env.get("GITHUB_RUN_ID")
    server, repo = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY")
    url = (
        f"{server}/{repo}/actions/runs/{workflow_run}" if server and repo and workflow_run else None
    )
    # GITHUB_RUN_ID is shared by every job of the workflow run: the job id keeps two jobs (a
    # test job and a coverage job, say) from being taken for one run.
    job = env.get("GITHUB_JOB")
    run_id = f"{workflow_run}/{job}" if workflow_run and job else workflow_run
    # on pull_request events GITHUB_REF_NAME is "123/merge"; the PR's branch is GITHUB_HEAD_REF
    branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME")
    return CIMeta(
        provider="github-actions",
        commit=env.get("GITHUB_SHA"),
        branch=branch or None,
        run_id=run_id,
        attempt=_int(env.get("GITHUB_RUN_ATTEMPT")),
        url=url,
    )


def _gitlab(env: Mapping[str, str]) -> CIMeta:
    # GitLab has no attempt counter: a retried job is a new job id, i.e. another run on the
    # same commit, which is what the classifier needs to see.
    branch = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME")
    return CIMeta(
        provider="gitlab-ci",
        commit=env.get("CI_COMMIT_SHA"),
        branch=branch,
        run_id=env.get("CI_JOB_ID") or env.get("CI_PIPELINE_ID"),
        attempt=None,
        url=env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"),
    )


def _buildkite(env: Mapping[str, str]) -> CIMeta:
    run = env.get("BUILDKITE_BUILD_ID")
    job = env.get("BUILDKITE_STEP_KEY") or env.get("BUILDKITE_LABEL")
    return CIMeta(
        provider="buildkite",
        commit=env.get("BUILDKITE_COMMIT"),
        branch=env.get("BUILDKITE_BRANCH"),
        run_id=f"{run}/{job}" if run and job else run,
        attempt=_int(env.get("BUILDKITE_RETRY_COUNT"), offset=1),  # 0 on the first try
        url=env.get("BUILDKITE_BUILD_URL"),
    )


def _circleci(env: Mapping[str, str]) -> CIMeta:
    return CIMeta(
        provider="circleci",
        commit=env.get("CIRCLE_SHA1"),
        branch=env.get("CIRCLE_BRANCH"),
        run_id=env.get("CIRCLE_BUILD_NUM") or env.get("CIRCLE_WORKFLOW_ID"),
        attempt=None,
        url=env.get("CIRCLE_BUILD_URL"),
    )


def _jenkins(env: Mapping[str, str]) -> CIMeta:
    return CIMeta(
        provider="jenkins",
        commit=env.get("GIT_COMMIT"),
        branch=_strip_remote(env.get("BRANCH_NAME") or env.get("GIT_BRANCH")),
        run_id=env.get("BUILD_TAG") or env.get("BUILD_NUMBER"),
        attempt=None,
        url=env.get("BUILD_URL"),
    )


def detect(env: Mapping[str, str]) -> CIMeta:
    """What the CI this process runs in says about the run; empty outside CI."""
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI"):
        return _gitlab(env)
    if env.get("BUILDKITE") == "true":
        return _buildkite(env)
    if env.get("CIRCLECI") == "true":
        return _circleci(env)
    if env.get("JENKINS_URL") or env.get("JENKINS_HOME"):
        return _jenkins(env)
    return CIMeta()
