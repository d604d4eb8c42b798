"""Tokens against the real service: none, malformed, unknown, too small a scope, revoked, and
admin; the log names tokens and reasons, never a secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekeeper.store.migrations import SCHEMA_VERSION

from ..conftest import SAMPLES
from .conftest import API, Server, cli, make_token, start_app

JUNIT = SAMPLES / "next" / "user-service" / "junit.xml"


@pytest.fixture(scope="module")
def setup(
    databases: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], str, Path]]:
    db = databases[1]
    cwd = tmp_path_factory.mktemp("auth")
    tokens = {
        scope: make_token(db, f"{scope}-token", scope, cwd) for scope in ("read", "upload", "admin")
    }
    server = start_app(db, cwd)
    try:
        yield server, tokens, db, cwd
    finally:
        server.stop()


ENDPOINTS = [
    ("GET", f"{API}/quarantine"),
    ("GET", f"{API}/skip-list"),
    ("GET", f"{API}/tests/user-service/some::test"),
    ("GET", f"{API}/tokens"),
    ("POST", f"{API}/tokens"),
    ("DELETE", f"{API}/tokens/x"),
    ("POST", f"{API}/runs"),
    ("POST", f"{API}/gate"),
    ("GET", "/metrics"),
]


def _upload(server: Server, token: str | None, run_id: str) -> tuple[int, dict[str, object]]:
    with server.client(token) as c:
        r = c.post(
            f"{API}/runs",
            files=[("files", ("junit.xml", JUNIT.read_bytes()))],
            data={"service": "user-service", "run_id": run_id},
        )
    return r.status_code, r.json()


def test_health_needs_no_token(setup: tuple[Server, dict[str, str], str, Path]) -> None:
    server = setup[0]
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready", "schema_version": SCHEMA_VERSION}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_a_token(
    setup: tuple[Server, dict[str, str], str, Path], method: str, path: str
) -> None:
    with setup[0].client() as c:
        r = c.request(method, path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["message"] == "no bearer token"
    assert r.json()["error"]["exit_code"] == 2


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Basic dXNlcjpwYXNz", "no bearer token"),
        ("Bearer not-a-token", "the bearer token is not a gatekeeper token"),
        ("Bearer gk_admin_" + "A" * 43, "the bearer token is not known to this server"),
        ("Bearer gk_root_" + "A" * 43, "the bearer token is not a gatekeeper token"),
    ],
)
def test_a_token_the_server_did_not_issue_is_refused(
    setup: tuple[Server, dict[str, str], str, Path], header: str, message: str
) -> None:
    with setup[0].client() as c:
        r = c.get(f"{API}/quarantine", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json()["error"]["message"].startswith(message)


def test_a_token_claiming_a_bigger_scope_in_its_text_gets_only_its_own(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    """The scope in the token's text is a label: the stored scope decides, and editing the
    label changes the hash, so the token is no longer known."""
    server, tokens = setup[0], setup[1]
    forged = tokens["read"].replace("gk_read_", "gk_admin_")
    with server.client(forged) as c:
        assert c.get(f"{API}/tokens").status_code == 401


def test_a_read_token_reads_but_cannot_upload(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    server, tokens = setup[0], setup[1]
    with server.client(tokens["read"]) as c:
        assert c.get(f"{API}/quarantine").status_code == 200
        assert c.get("/metrics").status_code == 200
    status, body = _upload(server, tokens["read"], "read-1")
    assert status == 403
    assert body["error"] == {
        "message": "the token 'read-token' has the scope read; this needs upload",
        "hint": "use a token made with --scope upload (scopes: read, upload, admin, each "
        "allowing what the ones before it allow)",
        "text": "the token 'read-token' has the scope read; this needs upload (use a token made "
        "with --scope upload (scopes: read, upload, admin, each allowing what the ones before "
        "it allow))",
        "kind": "auth",
        "exit_code": 2,
    }


def test_an_upload_token_uploads_and_reads_but_does_not_manage_tokens(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    server, tokens = setup[0], setup[1]
    status, body = _upload(server, tokens["upload"], "upload-1")
    assert (status, body["stored"], body["tests"]) == (201, True, 39)
    with server.client(tokens["upload"]) as c:
        assert c.get(f"{API}/skip-list").status_code == 200
        assert c.get(f"{API}/tokens").status_code == 403
        assert c.post(f"{API}/tokens", json={"name": "x", "scope": "admin"}).status_code == 403


def test_admin_manages_tokens_over_http_and_a_revoked_token_is_refused_at_once(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    server, tokens, db, cwd = setup
    with server.client(tokens["admin"]) as admin:
        made = admin.post(f"{API}/tokens", json={"name": "ci-http", "scope": "upload"})
        assert made.status_code == 201
        secret = made.json()["token"]
        assert secret.startswith("gk_upload_") and len(secret) == len("gk_upload_") + 43
        again = admin.post(f"{API}/tokens", json={"name": "ci-http", "scope": "upload"})
        assert again.status_code == 409
        assert again.json()["error"]["message"] == "token ci-http: the name is taken"
        assert _upload(server, secret, "http-1")[0] == 201
        listed = {t["name"]: t for t in admin.get(f"{API}/tokens").json()}
        assert set(listed) >= {"read-token", "upload-token", "admin-token", "ci-http"}
        assert listed["ci-http"]["last_used_at"] is not None
        assert all(set(t) == {"name", "scope", "created_at", "revoked_at", "last_used_at"}
                   for t in listed.values())  # fmt: skip
        gone = admin.delete(f"{API}/tokens/ci-http")
        assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
        assert admin.delete(f"{API}/tokens/nobody").status_code == 404
    status, body = _upload(server, secret, "http-2")
    assert status == 401
    assert body["error"]["message"].startswith("the bearer token 'ci-http' was revoked on ")

    # revoked with the CLI, refused by the running service at the next request
    with server.client(tokens["upload"]) as c:
        assert c.get(f"{API}/quarantine").status_code == 200
    done = cli("token", "revoke", "upload-token", "--db", db, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("token upload-token: revoked (")
    assert _upload(server, tokens["upload"], "upload-2")[0] == 401


def test_the_log_names_tokens_and_reasons_but_never_a_secret(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    server, tokens = setup[0], setup[1]
    with server.client(tokens["read"]) as c:
        c.post(f"{API}/runs", files=[("files", ("a.xml", b"<x/>"))], data={"service": "s"})
        c.get(f"{API}/quarantine", params={"format": "json"})
    with server.client() as c:
        c.get(f"{API}/quarantine")
        c.get(f"{API}/quarantine", headers={"Authorization": "Bearer gk_admin_" + "B" * 43})
    log = server.log()
    assert "refused POST /api/v1/runs: scope token 'read-token'" in log
    assert "GET /api/v1/quarantine 200 " in log and "token=read-token" in log
    assert "refused GET /api/v1/quarantine: missing token" in log
    assert "refused GET /api/v1/quarantine: unknown token" in log
    for secret in tokens.values():
        assert secret not in log
        assert secret.split("_", 2)[2] not in log


def test_the_cli_lists_tokens_without_secrets_or_hashes(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    _server, tokens, db, cwd = setup
    done = cli("token", "list", "--db", db, cwd=cwd)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["name", "scope", "created", "last", "used", "revoked"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(names) and "admin-token" in names
    for secret in tokens.values():
        assert secret not in done.stdout
    assert not any(len(word) >= 40 for word in done.stdout.split())  # no hash, no secret


def test_token_create_prints_the_secret_once_and_refuses_bad_input(
    setup: tuple[Server, dict[str, str], str, Path],
) -> None:
    _server, _tokens, db, cwd = setup
    done = cli("token", "create", "--name", "once", "--scope", "read", "--db", db, cwd=cwd)
    assert done.returncode == 0
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("gk_read_")
    assert "it cannot be shown again" in done.stderr
    bad = cli("token", "create", "--name", "x", "--scope", "root", "--db", db, cwd=cwd)
    assert bad.returncode == 2
    assert "gatekeeper: error: --scope root: not a token scope (choose read, upload, admin)" in (
        bad.stderr
    )
    taken = cli("token", "create", "--name", "once", "--scope", "read", "--db", db, cwd=cwd)
    assert taken.returncode == 2 and "token once: the name is taken" in taken.stderr
    missing = cli("token", "revoke", "nobody", "--db", db, cwd=cwd)
    assert missing.returncode == 2 and "token nobody: no such token" in missing.stderr
