"""What the service refuses, and that it says so with the CLI's words: unsafe and unreadable
reports, conflicting runs, bad parameters, bodies over the size limits."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import REALWORLD, SAMPLES
from .conftest import API, Server, cli, cli_error, make_token, start_app, start_server

INVALID = SAMPLES / "invalid"
NEXT = SAMPLES / "next" / "user-service"
BIG = REALWORLD / "cobertura" / "tarpaulin__sylvia_workspace.xml"  # 60 to 190 KB
FILE_MB, REQUEST_MB = 0.05, 0.2  # 51,200 and 209,715 bytes


@pytest.fixture(scope="module")
def setup(
    databases: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str, str, Path]]:
    cli_db, service_db = databases
    cwd = tmp_path_factory.mktemp("errors")
    for f in INVALID.iterdir():
        shutil.copy(f, cwd / f.name)
    for f in NEXT.iterdir():
        shutil.copy(f, cwd / f.name)
    if BIG.is_file():  # the corpus: only the tests marked `realworld` read it
        shutil.copy(BIG, cwd / "big.xml")
    token = make_token(service_db, "ci", "upload", cwd)
    server = start_app(
        service_db, cwd, "--max-file-mb", str(FILE_MB), "--max-request-mb", str(REQUEST_MB)
    )
    try:
        yield server, token, cli_db, cwd
    finally:
        server.stop()
    # every refusal above was an answer, none a server error
    assert " 500 " not in server.log() and "internal error" not in server.log()


def _post(
    server: Server, token: str, files: list[tuple[str, bytes]], what: str = "runs", **form: str
) -> tuple[int, dict[str, object]]:
    with server.client(token) as c:
        r = c.post(
            f"{API}/{what}",
            files=[("files", f) for f in files],
            data={"service": "app", **form},
        )
    return r.status_code, r.json()


@pytest.mark.parametrize(
    "name",
    [
        "xxe.xml",
        "billion_laughs.xml",
        "not_xml.xml",
        "unknown_format.txt",
        "empty.xml",
        "truncated.xml",
        "cobertura_truncated.xml",
        "cargo_no_result_line.txt",
    ],
)
def test_a_bad_report_is_refused_with_the_clis_message(
    setup: tuple[Server, str, str, Path], name: str
) -> None:
    server, token, cli_db, cwd = setup
    done = cli("ingest", name, "--service", "app", "--db", cli_db, cwd=cwd)
    status, body = _post(server, token, [(name, (cwd / name).read_bytes())], run_id=name)
    assert status == 422
    error = body["error"]
    assert isinstance(error, dict)
    assert error["text"] == cli_error(done)
    assert error["kind"] == "input" and error["exit_code"] == 2
    assert str(error["text"]).startswith(name + ":")


def test_xxe_is_refused_before_anything_is_read_or_stored(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, cwd = setup
    junit = (cwd / "junit.xml").read_bytes()
    status, body = _post(
        server, token, [("junit.xml", junit), ("xxe.xml", (cwd / "xxe.xml").read_bytes())],
        run_id="xxe-and-good",
    )  # fmt: skip
    assert status == 422
    # all or nothing: the good file of the refused run was not stored either
    status, body = _post(server, token, [("junit.xml", junit)], run_id="xxe-and-good")
    assert (status, body["stored"]) == (201, True)


def test_the_gate_that_cannot_decide_says_so_in_the_gate_object_too(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, cli_db, cwd = setup
    done = cli("gate", "xxe.xml", "--service", "app", "--format", "json", "--db", cli_db, cwd=cwd)
    assert done.returncode == 2
    status, body = _post(server, token, [("xxe.xml", (cwd / "xxe.xml").read_bytes())], "gate")
    assert status == 422
    error = body.pop("error")
    assert isinstance(error, dict)
    assert error["text"] == cli_error(done)
    assert body == json.loads(done.stdout)  # {"passed": false, "decided": false, ...}
    assert body["passed"] is False


def test_a_run_stored_from_other_reports_is_a_conflict(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, cli_db, cwd = setup
    for name in ("junit.xml", "cobertura.xml"):
        done = cli("ingest", name, "--service", "app", "--run-id", "c-1", "--db", cli_db, cwd=cwd)
        status, body = _post(server, token, [(name, (cwd / name).read_bytes())], run_id="c-1")
    assert status == 409
    error = body["error"]
    assert isinstance(error, dict)
    assert error["text"] == cli_error(done)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"service": ""}, "service: an upload must name the service its run belongs to"),
        ({"attempt": "0"}, "attempt '0': must be a whole number from 1 to 10,000"),
        ({"attempt": "two"}, "attempt 'two': must be a whole number from 1 to 10,000"),
        ({"timestamp": "yesterday"}, "timestamp: timestamp 'yesterday' is not an ISO 8601 time"),
        ({"format": "xml"}, "--format xml: not a format gatekeeper reads"),
        ({"colour": "red"}, "colour: not a field of an upload"),
    ],
)
def test_bad_metadata_is_refused(
    setup: tuple[Server, str, str, Path], form: dict[str, str], message: str
) -> None:
    server, token, _cli_db, cwd = setup
    status, body = _post(server, token, [("junit.xml", (cwd / "junit.xml").read_bytes())], **form)
    assert status in (400, 422)
    error = body["error"]
    assert isinstance(error, dict)
    assert str(error["message"]).startswith(message)


def test_an_upload_without_files_or_not_a_form_is_refused(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, _cwd = setup
    with server.client(token) as c:
        none = c.post(f"{API}/runs", data={"service": "app"})
        as_json = c.post(f"{API}/runs", json={"service": "app"})
        text_files = c.post(f"{API}/runs", data={"service": "app", "files": "junit.xml"})
    assert none.status_code == 415  # a form without files is sent urlencoded, not multipart
    assert as_json.status_code == 415
    assert as_json.json()["error"]["message"].startswith(
        "Content-Type application/json: an upload is a multipart/form-data form"
    )
    assert text_files.status_code == 415

    def form(*fields: tuple[str, str]) -> bytes:
        parts = [
            f'--gk\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields
        ]
        return ("".join(parts) + "--gk--\r\n").encode()

    multipart = {"Content-Type": "multipart/form-data; boundary=gk"}
    with server.client(token) as c:
        only_text = c.post(f"{API}/runs", content=form(("service", "app")), headers=multipart)
        named_files = c.post(
            f"{API}/runs", content=form(("service", "app"), ("files", "x")), headers=multipart
        )
    assert only_text.status_code == 422
    assert only_text.json()["error"]["message"] == "no report files given"
    assert named_files.status_code == 400
    assert named_files.json()["error"]["message"] == "files: a text field, not a file"


@pytest.mark.parametrize(
    ("command", "params"),
    [
        (["skip-list", "--format", "maven"], {"format": "maven"}),
        (["skip-list", "--format", "cargo"], {"format": "cargo"}),
        (["quarantine", "list", "--format", "csv"], {"format": "csv"}),
    ],
)
def test_bad_list_parameters_are_400_with_the_clis_message(
    setup: tuple[Server, str, str, Path], command: list[str], params: dict[str, str]
) -> None:
    server, token, _cli_db, cwd = setup
    done = cli(*command, cwd=cwd)
    path = f"{API}/skip-list" if command[0] == "skip-list" else f"{API}/quarantine"
    with server.client(token) as c:
        r = c.get(path, params=params)
    assert r.status_code == 400
    assert r.json()["error"]["text"] == cli_error(done)


@pytest.mark.realworld
def test_a_file_over_the_limit_is_413_and_names_the_file(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, cwd = setup
    big = (cwd / "big.xml").read_bytes()
    assert FILE_MB * 1024 * 1024 < len(big) < REQUEST_MB * 1024 * 1024
    status, body = _post(server, token, [("reports/big.xml", big)], run_id="big")
    assert status == 413
    error = body["error"]
    assert isinstance(error, dict)
    assert error["message"] == (
        f"reports/big.xml: {len(big):,} bytes is more than the limit of 51.2 KiB per file"
    )
    # and nothing was stored: the same run with a small file is new
    small = (cwd / "junit.xml").read_bytes()
    assert _post(server, token, [("junit.xml", small)], run_id="big")[0] == 201


def test_a_request_over_the_limit_is_413_even_without_a_content_length(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, cwd = setup
    junit = (cwd / "junit.xml").read_bytes()  # under the file limit; 25 of them are not
    files = [(f"part-{i}/junit.xml", junit) for i in range(25)]
    status, body = _post(server, token, files, run_id="many")
    assert status == 413
    error = body["error"]
    assert isinstance(error, dict)
    assert error["message"] == "the upload: more than the limit of 204.8 KiB per request"

    def chunks() -> Iterator[bytes]:  # chunked transfer: the server counts as it reads
        boundary = b"--gk"
        yield boundary + b'\r\nContent-Disposition: form-data; name="service"\r\n\r\napp\r\n'
        for i in range(25):
            yield (
                boundary + b'\r\nContent-Disposition: form-data; name="files"; '
                b'filename="j%d.xml"\r\nContent-Type: application/xml\r\n\r\n' % i
            )
            yield junit + b"\r\n"
        yield boundary + b"--\r\n"

    with server.client(token) as c:
        r = c.post(
            f"{API}/runs",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=gk"},
        )
    assert r.status_code == 413
    assert r.json()["error"]["message"] == error["message"]


def test_file_names_are_shown_but_never_used_as_paths(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, cwd = setup
    # sent raw: httpx would percent-encode the control character
    body = (
        b'--gk\r\nContent-Disposition: form-data; name="service"\r\n\r\napp\r\n'
        b'--gk\r\nContent-Disposition: form-data; name="files"; '
        b'filename="..\\..\\etc/passwd\x07/xxe.xml"\r\n\r\n'
        + (cwd / "xxe.xml").read_bytes()
        + b"\r\n--gk--\r\n"
    )
    with server.client(token) as c:
        r = c.post(
            f"{API}/runs",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=gk"},
        )
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("etc/passwd?/xxe.xml:2: the DOCTYPE declares")


def test_unknown_endpoints_answer_in_json(setup: tuple[Server, str, str, Path]) -> None:
    server, token, _cli_db, _cwd = setup
    with server.client(token) as c:
        r = c.get(f"{API}/nothing")
        m = c.put(f"{API}/runs")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "/api/v1/nothing: no such endpoint"
    assert m.status_code == 405
    assert m.headers["allow"] == "POST"


def test_an_unknown_query_parameter_is_refused_not_ignored(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, _cwd = setup
    with server.client(token) as c:
        r = c.get(f"{API}/quarantine", params={"servce": "app"})
    assert r.status_code == 400
    assert r.json()["error"]["text"] == (
        "servce: not a query parameter of /api/v1/quarantine (it takes all, format, service)"
    )


EXPIRED = """\
flaky_tests:
  - name: "app::tests::racy"
    service: app
    reason: "races the clock"
    expires: "2020-01-01"
  - name: "src/lib.rs - parse (line 5)"
    service: app
    reason: "a doc-test that needs the network"
"""


@pytest.mark.parametrize(
    ("command", "path", "params"),
    [
        (["quarantine", "list"], "quarantine", {}),
        (["skip-list", "--format", "cargo", "--service", "app"], "skip-list",
         {"format": "cargo", "service": "app"}),
    ],
)  # fmt: skip
def test_the_clis_warnings_come_as_headers(
    setup: tuple[Server, str, str, Path], command: list[str], path: str, params: dict[str, str]
) -> None:
    """The registry is read at each request: a quarantine that expired, and a doc-test no
    `$(...)` can pass, are warned about on the CLI's stderr and in Gatekeeper-Warning."""
    server, token, _cli_db, cwd = setup
    registry = cwd / "flaky-tests.yml"  # the default registry, beside the server
    registry.write_text(EXPIRED)
    try:
        done = cli(*command, cwd=cwd)
        with server.client(token) as c:
            r = c.get(f"{API}/{path}", params=params)
    finally:
        registry.unlink()
    assert done.returncode == 0, done.stderr
    warnings = [w.removeprefix("warning: ") for w in done.stderr.splitlines()]
    assert any("expired on 2020-01-01" in w for w in warnings)
    assert r.status_code == 200
    assert r.text == done.stdout
    assert r.headers.get_list("gatekeeper-warning") == warnings


# -- metadata is one line of UTF-8 text; limits answer as documented -----------------------------


def _raw_form(fields: list[tuple[str, bytes]], junit: bytes) -> bytes:
    out = b""
    for name, value in fields:
        out += b'--gk\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            name.encode(),
            value,
        )
    out += (
        b'--gk\r\nContent-Disposition: form-data; name="files"; filename="junit.xml"\r\n'
        b"Content-Type: application/xml\r\n\r\n" + junit + b"\r\n--gk--\r\n"
    )
    return out


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            [(b"service", b"app"), (b"run_id", b"m\xff\xfeta")],
            "run_id: not UTF-8 text (byte 2 is 0xff)",
        ),
        (
            [(b"service", b"app\n::warning::x")],
            "service: holds a line break ('\\n' at character 4)",
        ),
        ([(b"service", b"app"), (b"branch", b"main\x1b[2J")], "branch: holds a control character"),
        ([(b"service", b"   ")], "service: blank (only spaces)"),
    ],
    ids=["not-utf8", "newline", "escape", "blank"],
)
def test_metadata_that_is_not_one_line_of_utf8_text_is_refused(
    setup: tuple[Server, str, str, Path], fields: list[tuple[bytes, bytes]], message: str
) -> None:
    server, token, _cli_db, cwd = setup
    body = _raw_form([(n.decode(), v) for n, v in fields], (cwd / "junit.xml").read_bytes())
    with server.client(token) as c:
        r = c.post(
            f"{API}/runs",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=gk"},
        )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith(message)


def test_more_files_than_the_limit_is_413_as_documented(
    setup: tuple[Server, str, str, Path],
) -> None:
    server, token, _cli_db, _cwd = setup
    status, body = _post(server, token, [(f"f{i}.xml", b"<a/>") for i in range(1001)])
    assert status == 413, body
    error = body["error"]
    assert isinstance(error, dict)
    assert error["message"] == "the upload: more than the limit of 1,000 files per request"


@pytest.mark.e2e
def test_a_client_that_leaves_while_an_oversized_body_is_drained_is_no_500(
    databases: list[str], tmp_path: Path
) -> None:
    """Over a real socket, to the real server: the client's connection closes mid-body."""
    token = make_token(databases[1], "leaver", "upload", tmp_path)
    server = start_server(
        databases[1], tmp_path, "--max-file-mb", str(FILE_MB), "--max-request-mb", str(REQUEST_MB)
    )
    try:
        _leave_mid_body(server, token)
    finally:
        server.stop()
    log = server.log()
    assert "the client disconnected while its oversized upload was being refused" in log
    assert "Traceback" not in log and "internal error" not in log
    assert " 500 " not in log  # no request answered 500


def _leave_mid_body(server: Server, token: str) -> None:
    import socket
    import time

    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST {API}/runs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=gk\r\nContent-Length: 900000000\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as s:
        s.sendall(head + b"x" * 100_000)
        time.sleep(0.5)  # the server is draining the body it refused
    deadline = time.monotonic() + 10
    while "disconnected" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_loaded_run_is_undecided_with_the_clis_words(
    setup: tuple[Server, str, str, Path],
) -> None:
    """Ten quiet runs of 8 benchmarks on main, then one on a machine 2.4x slower: the service
    answers 422 with the CLI's one line, and keeps the run, as the CLI does."""
    from ..test_cli_gate import LOADED_JITTER, LOADED_STABLE, bench_log

    server, token, cli_db, cwd = setup
    for i in range(10):
        values = {k: v * (1 + 0.01 * ((i * 7 + j) % 5 - 2)) for j, (k, v) in enumerate(
            LOADED_STABLE.items()
        )}  # fmt: skip
        name = f"quiet-{i}.txt"
        (cwd / name).write_text(bench_log(values, 0.01))
        meta = {"branch": "main", "run_id": f"q-{i}", "timestamp": f"2026-11-{i + 1:02d}T10:00:00Z"}
        done = cli(
            "ingest", name, "--service", "app", "--db", cli_db,
            *(f"--{k.replace('_', '-')}={v}" for k, v in meta.items()), cwd=cwd,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        status, _ = _post(server, token, [(name, (cwd / name).read_bytes())], **meta)
        assert status == 201
    loaded = {
        k: v * 2.4 * j for (k, v), j in zip(LOADED_STABLE.items(), LOADED_JITTER, strict=True)
    }
    (cwd / "loaded.txt").write_text(bench_log(loaded, 0.03))
    meta = {"branch": "main", "run_id": "loaded", "timestamp": "2026-11-20T10:00:00Z"}
    done = cli(
        "gate", "loaded.txt", "--service", "app", "--format", "json", "--db", cli_db,
        *(f"--{k.replace('_', '-')}={v}" for k, v in meta.items()), cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "moved together" in cli_error(done)
    status, body = _post(
        server, token, [("loaded.txt", (cwd / "loaded.txt").read_bytes())], "gate", **meta
    )
    assert status == 422
    error = body.pop("error")
    assert isinstance(error, dict)
    assert error["text"] == cli_error(done)
    assert body == json.loads(done.stdout)
    # kept: the same run again is already stored
    status, body = _post(server, token, [("loaded.txt", (cwd / "loaded.txt").read_bytes())], **meta)
    assert (status, body["stored"]) == (200, False)
