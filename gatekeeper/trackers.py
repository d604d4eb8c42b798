"""Issues on GitHub or GitLab for `gatekeeper quarantine ticket --create` (stdlib HTTP only).

GitHub's REST API (``POST /repos/{owner}/{repo}/issues``; ``$GITHUB_TOKEN``,
``$GITHUB_REPOSITORY``, ``$GITHUB_API_URL``) and GitLab's (``POST /projects/:id/issues``;
``$CI_API_V4_URL``, ``$CI_PROJECT_ID``, a token in ``$GATEKEEPER_GITLAB_TOKEN`` or
``$GITLAB_TOKEN``). Before creating, the open issues are searched for one with the same
title, so a job that lost the registry's write never files the same issue twice.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatekeeper.errors import TrackerCredentialsError, TrackerError
from gatekeeper.model import FiledTicket, Ticket

TIMEOUT = 30.0  # seconds per request
GITHUB_API = "https://api.github.com"


@dataclass(frozen=True)
class Tracker:
    kind: str  # "github" or "gitlab"
    api: str  # the API's base address, no trailing slash
    project: str  # owner/repo, or GitLab's project id or path
    token: str

    def describe(self) -> str:
        return f"{self.kind} {self.project} ({self.api})"


def from_environment(env: Mapping[str, str]) -> Tracker:
    """The tracker the CI environment names, with its token; refused without one."""
    if env.get("GITHUB_TOKEN") and env.get("GITHUB_REPOSITORY"):
        api = (env.get("GITHUB_API_URL") or GITHUB_API).rstrip("/")
        return Tracker("github", api, env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"])
    gitlab_token = env.get("GATEKEEPER_GITLAB_TOKEN") or env.get("GITLAB_TOKEN")
    if gitlab_token and env.get("CI_API_V4_URL") and env.get("CI_PROJECT_ID"):
        api = env["CI_API_V4_URL"].rstrip("/")
        return Tracker("gitlab", api, env["CI_PROJECT_ID"], gitlab_token)
    raise TrackerCredentialsError(
        "quarantine ticket --create: no issue tracker token",
        hint="set GITHUB_TOKEN and GITHUB_REPOSITORY, or GATEKEEPER_GITLAB_TOKEN with "
        "CI_API_V4_URL and CI_PROJECT_ID; without --create the issue is printed",
    )


def file_issue(tracker: Tracker, ticket: Ticket) -> FiledTicket:
    """The open issue titled ``ticket.title`` if there is one, else a new one."""
    found = find_open(tracker, ticket.title)
    if found is not None:
        return found
    if tracker.kind == "github":
        answer = _request(
            tracker,
            "POST",
            f"/repos/{tracker.project}/issues",
            {"title": ticket.title, "body": ticket.body, "labels": list(ticket.labels)},
        )
        return _github(answer, created=True)
    answer = _request(
        tracker,
        "POST",
        f"/projects/{_project(tracker)}/issues",
        {"title": ticket.title, "description": ticket.body, "labels": ",".join(ticket.labels)},
    )
    return _gitlab(answer, created=True)


def find_open(tracker: Tracker, title: str) -> FiledTicket | None:
    """An open issue with exactly this title (the first page of the newest 100)."""
    if tracker.kind == "github":
        query = urllib.parse.urlencode({"state": "open", "per_page": 100})
        issues = _request(tracker, "GET", f"/repos/{tracker.project}/issues?{query}")
        for issue in issues if isinstance(issues, list) else []:
            if issue.get("title") == title and "pull_request" not in issue:
                return _github(issue, created=False)
        return None
    query = urllib.parse.urlencode(
        {"state": "opened", "search": title, "in": "title", "per_page": 100}
    )
    issues = _request(tracker, "GET", f"/projects/{_project(tracker)}/issues?{query}")
    for issue in issues if isinstance(issues, list) else []:
        if issue.get("title") == title:
            return _gitlab(issue, created=False)
    return None


def _project(tracker: Tracker) -> str:
    return urllib.parse.quote(tracker.project, safe="")


def _github(issue: Any, *, created: bool) -> FiledTicket:
    try:
        number = int(issue["number"])
        return FiledTicket(f"#{number}", number, str(issue["html_url"]), created)
    except (KeyError, TypeError, ValueError) as err:
        raise TrackerError(f"github: an issue without a number or address ({err})") from err


def _gitlab(issue: Any, *, created: bool) -> FiledTicket:
    try:
        number = int(issue["iid"])
        return FiledTicket(f"#{number}", number, str(issue["web_url"]), created)
    except (KeyError, TypeError, ValueError) as err:
        raise TrackerError(f"gitlab: an issue without an iid or address ({err})") from err


def _request(tracker: Tracker, method: str, path: str, body: Any = None) -> Any:
    url = tracker.api + path
    headers = {"Accept": "application/json", "User-Agent": "gatekeeper"}
    if tracker.kind == "github":
        headers["Authorization"] = f"Bearer {tracker.token}"
        headers["Accept"] = "application/vnd.github+json"
        headers["X-GitHub-Api-Version"] = "2022-11-28"
    else:
        headers["PRIVATE-TOKEN"] = tracker.token
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    where = f"{tracker.kind} {method} {tracker.api}{path.split('?')[0]}"
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        hint = "check the token's permissions (issues: write)" if err.code in (401, 403) else None
        raise TrackerError(f"{where}: HTTP {err.code} {err.reason}", hint=hint) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TrackerError(f"{where}: cannot reach it ({reason})") from err
    try:
        return json.loads(raw or b"null")
    except ValueError as err:
        raise TrackerError(f"{where}: the answer is not JSON") from err
