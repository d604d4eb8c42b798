"""The HTTP client of `gatekeeper serve` for the CLI's client mode (``--server URL``): the only
module that speaks HTTP to the service. It retries what is safe to retry, within a bounded
time, and turns every way of not getting an answer into a ServerError (exit code 2), so an
unreachable server never makes a gate pass.

Why every request may be retried, the uploads included: a run is keyed by (service, run id,
attempt) and the client sends all three, resolved before the first attempt (a derived run id
comes from the files' content). If an upload reached the server but its answer was lost, the
retry finds the run stored and stores nothing twice (``"stored": false``); the gate then
decides again on the same data. ``classify`` writes nothing on the server. The reads are reads.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any, TypeVar

import httpx

from gatekeeper.api import OutgoingRun, Output, changed_lines_json
from gatekeeper.errors import EXIT_CANNOT_DECIDE, ConfigError, ServerError
from gatekeeper.model import (
    BenchmarkJudgement,
    BenchmarkVerdict,
    CoverageFigure,
    Direction,
    FailureKind,
    FlakyInRun,
    GateDecision,
    GateFailure,
    IngestOutcome,
    MutedFailure,
    RunCounts,
    RunMeta,
    RunShift,
)

T = TypeVar("T")
ENV_SERVER = "GATEKEEPER_SERVER"
ENV_TOKEN = "GATEKEEPER_TOKEN"
ENV_TIMEOUT = "GATEKEEPER_SERVER_TIMEOUT"
ENV_RETRIES = "GATEKEEPER_SERVER_RETRIES"
DEFAULT_TIMEOUT = 60.0  # seconds: the longest one attempt takes, all of it (a deadline)
DEFAULT_RETRIES = 3  # after the first attempt: 4 attempts in all
MAX_TIMEOUT = 3600.0
MAX_RETRIES = 10
MAX_CONNECT_TIMEOUT = 10.0  # a host that drops packets should not cost a minute per attempt
BACKOFF_FIRST = 0.5  # seconds before the first retry; doubled each time, with jitter
BACKOFF_MAX = 8.0
MAX_RETRY_AFTER = 30.0  # the longest a Retry-After header makes us wait
# Answers that say "not now" rather than "no": a proxy with no healthy replica (502, 504), a
# replica whose database is down or being upgraded (503), a rate limit (429).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
API = "/api/v1"
_HINT_RUNNING = "is the server running? check --server / $GATEKEEPER_SERVER"
_HINT_SLOW = (
    "the server is slow or stuck: check its log, or raise $GATEKEEPER_SERVER_TIMEOUT (seconds)"
)
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]+")
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
# What the service sends each format as (service/app.py): anything else is not its answer.
_LIST_MEDIA = {"table": "text/plain", "json": "application/json", "yaml": "application/yaml"}
_REPORT_MEDIA = {"md": "text/markdown", "html": "text/html", "json": "application/json"}

try:
    _VERSION = version("gatekeeper")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    _VERSION = "0"


class RemoteError(ServerError):
    """The server answered with one of gatekeeper's errors: the same message, hint and exit
    code the command has when it runs on a database (``text`` is what follows
    ``gatekeeper: error:``)."""

    def __init__(
        self, detail: Mapping[str, Any], status: int, *, prefix: str = "", suffix: str = ""
    ) -> None:
        text = str(detail["text"])
        hint = detail.get("hint")
        super().__init__(str(detail.get("message") or text), hint=hint if hint else None)
        self.text = prefix + text + suffix
        self.status = status
        self.kind = str(detail.get("kind") or "server")
        code = detail.get("exit_code")
        # never 0 or 1: an error is "could not decide", whatever a body says
        self.exit_code: int = EXIT_CANNOT_DECIDE
        if isinstance(code, int) and not isinstance(code, bool) and code > EXIT_CANNOT_DECIDE:
            self.exit_code = code

    def __str__(self) -> str:
        return self.text


# -- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Where the server is and how long to try: ``--server`` / ``$GATEKEEPER_SERVER``,
    ``$GATEKEEPER_TOKEN``, ``$GATEKEEPER_SERVER_TIMEOUT``, ``$GATEKEEPER_SERVER_RETRIES``."""

    url: str  # the base URL, without a trailing slash
    token: str | None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES

    @property
    def shown(self) -> str:
        """The URL for messages: never a user name or password written into it."""
        u = httpx.URL(self.url)
        port = f":{u.port}" if u.port else ""
        host = f"[{u.host}]" if ":" in u.host else u.host
        return f"{u.scheme}://{host}{port}{u.path.rstrip('/')}"


def server_url(flag: str | None, env: Mapping[str, str]) -> str | None:
    """The server asked for: ``--server``, else ``$GATEKEEPER_SERVER``; None for none.

    An empty value is an error, not "no server": in CI it is a secret that did not arrive
    (a fork's pull request), and quietly using a local database instead would be a different
    gate from the one the job asked for."""
    if flag is not None:
        if not flag.strip():
            raise ConfigError(
                "--server: an empty URL",
                hint=f"pass the server's URL, e.g. https://gatekeeper.example.com (is "
                f"${ENV_SERVER} set?)",
            )
        return flag.strip()
    if ENV_SERVER not in env:
        return None
    if not env[ENV_SERVER].strip():
        raise ConfigError(
            f"${ENV_SERVER} is set but empty",
            hint="set it to the server's URL, or unset it to use a database; in CI, check "
            "that the secret reaches this job",
        )
    return env[ENV_SERVER].strip()


def settings_from(url: str, env: Mapping[str, str]) -> ClientSettings:
    """Check the URL and read the token, timeout and retries from the environment."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as err:
        raise ConfigError(
            f"--server {url}: not a URL ({err})", hint="write e.g. https://gatekeeper.example.com"
        ) from err
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"--server {url}: not an http:// or https:// URL with a host",
            hint="write e.g. https://gatekeeper.example.com",
        )
    if parsed.query or parsed.fragment:
        raise ConfigError(
            f"--server {url}: a server URL has no ?query or #fragment",
            hint="give the URL gatekeeper serve answers on, e.g. https://gatekeeper.example.com",
        )
    path = parsed.path.rstrip("/")
    if path.endswith(API):
        path = path[: -len(API)]  # the API's own prefix is added to each request
    base = str(parsed.copy_with(path=path or "/")).rstrip("/")
    token = env.get(ENV_TOKEN, "").strip() or None
    if token is not None and not _TOKEN_TEXT.fullmatch(token):
        raise ConfigError(
            f"${ENV_TOKEN}: holds a space, a line break or a character no token has",
            hint="copy the token again (gk_<scope>_ and 43 characters), without quotes",
        )
    timeout = _number(env, ENV_TIMEOUT, DEFAULT_TIMEOUT, "a number of seconds", "60")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ConfigError(
            f"{ENV_TIMEOUT}={env.get(ENV_TIMEOUT)}: must be more than 0 and at most "
            f"{MAX_TIMEOUT:g} seconds",
            hint="e.g. 60",
        )
    retries = _number(env, ENV_RETRIES, DEFAULT_RETRIES, "a whole number of retries", "3")
    if retries != int(retries) or not 0 <= retries <= MAX_RETRIES:
        raise ConfigError(
            f"{ENV_RETRIES}={env.get(ENV_RETRIES)}: must be a whole number from 0 to {MAX_RETRIES}",
            hint="e.g. 3 (4 attempts in all)",
        )
    return ClientSettings(url=base, token=token, timeout=timeout, retries=int(retries))


def _number(env: Mapping[str, str], name: str, default: float, what: str, example: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r}: not {what}", hint=f"e.g. {example}")
    return value


# -- the exchange: one request, retried --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    response: httpx.Response
    path: str
    attempts: int
    elapsed: float


# (field name, (file name, content, media type)) as httpx takes files
_FilePart = tuple[str, tuple[str, IO[bytes] | bytes, str]]
_Files = Callable[[contextlib.ExitStack], list[_FilePart]]


class Client:
    """A gatekeeper server, asked as the CLI's commands ask the database. One connection pool;
    close it (or use ``with``) when done."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        headers = {"User-Agent": f"gatekeeper/{_VERSION}"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._http = httpx.Client(
            base_url=settings.url,
            headers=headers,
            timeout=httpx.Timeout(
                settings.timeout, connect=min(settings.timeout, MAX_CONNECT_TIMEOUT)
            ),
            follow_redirects=False,  # a redirect would turn an upload into a GET
            # A new connection per request, so that each attempt's deadline (_Deadline) holds
            # its socket; a command sends one or two requests.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def plain_http_to_remote(self) -> bool:
        """A token sent unencrypted beyond this machine (worth a warning)."""
        u = httpx.URL(self.settings.url)
        return bool(self.settings.token) and u.scheme == "http" and u.host not in _LOOPBACK

    # -- the commands -------------------------------------------------------------------------

    def ingest(self, run: OutgoingRun) -> IngestOutcome:
        """``POST /api/v1/runs``: store a run, as `gatekeeper ingest` does."""
        answer = self._exchange(
            "POST", f"{API}/runs", fields=_run_fields(run), files=_report_files(run)
        )
        return self._decode(answer, ingest_outcome)

    def gate(
        self,
        run: OutgoingRun,
        *,
        base_ref: str | None = None,
        changed: Mapping[str, frozenset[int]] | None = None,
        repo_root: str | None = None,
    ) -> GateDecision:
        """``POST /api/v1/gate``: store the run and decide, with the server's configuration and
        registry. Patch coverage sends the lines this checkout's `git diff` changed."""
        fields = _run_fields(run)
        if base_ref is not None:
            fields["base_ref"] = base_ref
        if repo_root:
            fields["repo_root"] = repo_root
        reports = _report_files(run)
        lines = changed_lines_json(changed) if changed is not None else None

        def files(stack: contextlib.ExitStack) -> list[_FilePart]:
            parts = reports(stack)
            if lines is not None:
                parts.append(("changed_lines", ("changed-lines.json", lines, "application/json")))
            return parts

        answer = self._exchange("POST", f"{API}/gate", fields=fields, files=files)
        return self._decode(answer, decision_from_json)

    def classify(
        self,
        data: bytes | None,
        name: str,
        *,
        service: str | None,
        dry_run: bool,
        allow_mass_quarantine: bool = False,
    ) -> RemoteClassification:
        """``POST /api/v1/classify``: the server classifies its history into the registry
        text sent; the caller writes the file."""
        fields = {"name": name, "dry_run": "true" if dry_run else "false"}
        if allow_mass_quarantine:
            fields["allow_mass_quarantine"] = "true"
        if service is not None:
            fields["service"] = service
        if data is None:
            # without a file httpx would send the fields urlencoded: build the (small) form
            body, kind = _text_form(fields)
            answer = self._exchange(
                "POST", f"{API}/classify", content=body, headers={"Content-Type": kind}
            )
        else:
            registry = data
            answer = self._exchange(
                "POST",
                f"{API}/classify",
                fields=fields,
                files=lambda _stack: [
                    ("registry", (_basename(name), registry, "application/yaml"))
                ],
            )
        return self._decode(answer, classification_from_json)

    def quarantine_list(self, *, fmt: str, service: str | None, include_released: bool) -> Output:
        """``GET /api/v1/quarantine``: what `quarantine list` prints, with its warnings."""
        params = {"format": fmt}
        if service is not None:
            params["service"] = service
        if include_released:
            params["all"] = "true"
        answer = self._exchange("GET", f"{API}/quarantine", params=params)
        return self._listing(answer, _LIST_MEDIA.get(fmt))

    def skip_list(self, *, fmt: str, service: str | None) -> Output:
        """``GET /api/v1/skip-list``: what `skip-list` prints, with its warnings."""
        params = {"format": fmt}
        if service is not None:
            params["service"] = service
        answer = self._exchange("GET", f"{API}/skip-list", params=params)
        return self._listing(answer, "application/json" if fmt == "json" else "text/plain")

    def report(self, *, since: str, until: str | None, service: str | None, fmt: str) -> str:
        """``GET /api/v1/report``: the weekly report, as `gatekeeper report` renders it."""
        params = {"since": since, "format": fmt}
        if until is not None:
            params["until"] = until
        if service is not None:
            params["service"] = service
        answer = self._exchange("GET", f"{API}/report", params=params)
        return self._listing(answer, _REPORT_MEDIA.get(fmt)).text

    # -- plumbing -----------------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        fields: Mapping[str, str | list[str]] | None = None,
        files: _Files | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        """Send one request; retry connection failures, timeouts and "not now" answers with
        exponential backoff and jitter; never a 4xx or a 500. Files are opened anew for each
        attempt, and streamed."""
        attempts = self.settings.retries + 1
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            deadline = _Deadline(self.settings.timeout)
            try:
                with contextlib.ExitStack() as stack, deadline:
                    response = self._http.request(
                        method,
                        path,
                        params=params,
                        data=fields,
                        files=files(stack) if files is not None else None,
                        content=content,
                        headers=headers,
                        extensions={"trace": deadline.trace},
                    )
            except httpx.TransportError as err:
                what, hint, again = self._failure(err)
                if deadline.expired:  # the socket was shut at the deadline: that is why
                    what, hint, again = (
                        f"no answer within {self.settings.timeout:g} s",
                        _HINT_SLOW,
                        True,
                    )
                if again and attempt < attempts:
                    self._sleep(_backoff(attempt))
                    continue
                raise ServerError(
                    f"{self.settings.shown}: {what} after {_attempts(attempt)} over "
                    f"{time.monotonic() - started:.1f} s",
                    hint=hint,
                ) from err
            except OSError as err:  # a report that vanished or cannot be read between attempts
                name = getattr(err, "filename", None) or "a report file"
                raise ServerError(
                    f"{name}: cannot read it to send it ({err.strerror or err})",
                    hint="check the path",
                ) from err
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                self._sleep(max(_backoff(attempt), _retry_after(response)))
                continue
            return _Answer(response, path, attempt, time.monotonic() - started)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _failure(self, err: httpx.TransportError) -> tuple[str, str, bool]:
        """What went wrong, in words; the hint; and whether another attempt may help."""
        t = self.settings.timeout
        reason = _reason(err)
        if isinstance(err, httpx.ConnectTimeout):
            return (
                f"cannot connect (no answer within {min(t, MAX_CONNECT_TIMEOUT):g} s)",
                (_HINT_RUNNING),
                True,
            )
        if isinstance(err, (httpx.ReadTimeout, httpx.PoolTimeout)):
            return f"no answer within {t:g} s", _HINT_SLOW, True
        if isinstance(err, httpx.WriteTimeout):
            return f"could not send the request within {t:g} s", _HINT_SLOW, True
        if isinstance(err, httpx.ConnectError):
            if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
                return (
                    f"TLS failed ({reason})",
                    "check the server's certificate; for a private CA, point $SSL_CERT_FILE "
                    "at its bundle",
                    False,
                )
            return f"cannot connect ({reason})", _HINT_RUNNING, True
        if isinstance(err, httpx.ProxyError):
            return f"the proxy failed ({reason})", "check $HTTPS_PROXY and $NO_PROXY", True
        if isinstance(err, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            return f"cannot send the request ({reason})", "check --server", False
        return (
            f"the connection broke ({reason})",
            "the server or a proxy in front of it dropped the request: check their logs",
            True,
        )

    def _refusal(self, answer: _Answer) -> ServerError:
        """A non-2xx answer as an error: the server's own message when it sent one."""
        r = answer.response
        shown = self.settings.shown
        detail = _error_detail(r)
        if detail is not None:
            if r.status_code in (401, 403):
                # the token is this client's business: say which server refused it
                unset = "" if self.settings.token else f"; ${ENV_TOKEN} is not set"
                return RemoteError(detail, r.status_code, prefix=f"{shown}: ", suffix=unset)
            return RemoteError(detail, r.status_code)
        status = f"{r.status_code} {r.reason_phrase}".strip()
        if r.status_code in RETRY_STATUSES:
            return ServerError(
                f"{shown}: answered {status} after {_attempts(answer.attempts)} over "
                f"{answer.elapsed:.1f} s",
                hint="the server, or the proxy in front of it, is failing: check their logs",
            )
        if 300 <= r.status_code < 400:
            where = r.headers.get("location", "elsewhere")
            return ServerError(
                f"{shown}: answered {status}, a redirect to {where}",
                hint="use the URL it points to as --server",
            )
        return ServerError(
            f"{shown}{answer.path}: answered {status}, not an answer of gatekeeper serve",
            hint="is --server the URL of gatekeeper serve (without /api/v1)?",
        )

    def _decode(self, answer: _Answer, decoder: Callable[[Any], T]) -> T:
        """A 2xx JSON answer through ``decoder``; any other answer as an error."""
        r = answer.response
        if not r.is_success:
            raise self._refusal(answer)
        try:
            return decoder(json.loads(r.content.decode("utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
            raise ServerError(
                f"{self.settings.shown}{answer.path}: answered {r.status_code} with a body "
                f"gatekeeper cannot read ({type(err).__name__}: {err})",
                hint="is --server the URL of gatekeeper serve, of the same version as this one?",
            ) from err

    def _listing(self, answer: _Answer, expected: str | None) -> Output:
        """A text answer, with its warnings. Its media type must be the one gatekeeper sends
        for the format asked: a catch-all page of some other server at that URL must not
        become a skip list."""
        r = answer.response
        if not r.is_success:
            raise self._refusal(answer)
        media = r.headers.get("content-type", "").split(";")[0].strip().lower()
        if expected is not None and media != expected:
            raise ServerError(
                f"{self.settings.shown}{answer.path}: answered {r.status_code} with "
                f"{media or 'no content type'}, not the {expected} gatekeeper sends",
                hint="is --server the URL of gatekeeper serve?",
            )
        try:
            text = r.content.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ServerError(
                f"{self.settings.shown}{answer.path}: answered with text that is not UTF-8",
                hint="is --server the URL of gatekeeper serve?",
            ) from err
        warnings = tuple(_unescape(w) for w in r.headers.get_list("gatekeeper-warning"))
        return Output(text, media, warnings)


class _Deadline:
    """Ends one attempt after ``seconds``, whatever the server does. httpx's timeouts bound each
    step (connecting, one read), so a server that sends a byte a second never trips them; at
    the deadline this shuts the attempt's socket, and the blocked read or write returns."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace hook: note the socket of each new connection (and its TLS socket:
        wrapping detaches the plain one)."""
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        sock = info["return_value"].get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing to stop
        sock.shutdown(socket.SHUT_RDWR)


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _backoff(attempt: int) -> float:
    """Seconds before retry ``attempt``: 0.5, 1, 2, 4, 8, 8, ... each scaled by a random
    factor from 0.5 to 1, so that jobs failed by the same outage do not come back together."""
    delay: float = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.0)


def _retry_after(response: httpx.Response) -> float:
    """A Retry-After header (seconds, or an HTTP date) in seconds, at most MAX_RETRY_AFTER."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return 0.0
    if raw.isdigit():
        return min(float(raw), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return 0.0
    now = datetime.now(when.tzinfo)
    return max(0.0, min((when - now).total_seconds(), MAX_RETRY_AFTER))


def _reason(err: Exception) -> str:
    """An exception's words without ``[Errno 111]``: ``connection refused``."""
    text = _ERRNO.sub("", str(err).strip()) or type(err).__name__
    return text[:1].lower() + text[1:]


def _error_detail(response: httpx.Response) -> Mapping[str, Any] | None:
    """The ``error`` object of a gatekeeper error body, or None for any other body."""
    try:
        body = json.loads(response.content.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    detail = body.get("error")
    if isinstance(detail, dict) and isinstance(detail.get("text"), str):
        return detail
    return None


def _unescape(header: str) -> str:
    r"""A Gatekeeper-Warning header's text: the service writes non-ASCII characters as
    ``\xe9`` / ``\u2026`` escapes (headers are ASCII); turn them back."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)), header)


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "flaky-tests.yml"


def _text_form(fields: Mapping[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body of text fields only."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode("utf-8")
        + b"\r\n"
        for name, value in fields.items()
    ]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _run_fields(run: OutgoingRun) -> dict[str, str | list[str]]:
    """A run's metadata as the upload form's text fields: everything resolved here."""
    m = run.meta
    fields: dict[str, str | list[str]] = {
        "service": m.service,
        "run_id": m.run_id,
        "attempt": str(m.attempt),
        "format": run.fmt,
    }
    optional = {
        "commit": m.commit,
        "branch": m.branch,
        "timestamp": m.timestamp.isoformat() if m.timestamp else None,
        "ci_provider": m.ci_provider,
        "ci_url": m.url,
    }
    fields.update({k: v for k, v in optional.items() if v})
    if run.notes:
        fields["note"] = list(run.notes)
    return fields


def _report_files(run: OutgoingRun) -> _Files:
    def files(stack: contextlib.ExitStack) -> list[_FilePart]:
        return [
            ("files", (r.name, stack.enter_context(r.path.open("rb")), "application/octet-stream"))
            for r in run.reports
        ]

    return files


# -- the service's JSON back into records -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoteClassification:
    """``POST /api/v1/classify``'s answer."""

    registry: str | None  # the new registry text (the old one when nothing changed)
    changed: bool
    report: str  # exactly what `classify` prints after the diff
    diff: str
    refused: tuple[str, ...] = ()  # services refused for mass quarantine, one line each


def classification_from_json(body: Any) -> RemoteClassification:
    registry = body["registry"]
    if registry is not None and not isinstance(registry, str):
        raise TypeError("registry: not text")
    changed, report, diff = body["changed"], body["report"], body["diff"]
    if not (isinstance(changed, bool) and isinstance(report, str) and isinstance(diff, str)):
        raise TypeError("changed, report, diff: not a bool and two texts")
    if changed and registry is None:
        raise ValueError("changed, with no registry text")
    refused = body.get("refused", [])
    if not isinstance(refused, list) or not all(isinstance(r, str) for r in refused):
        raise TypeError("refused: not a list of texts")
    return RemoteClassification(registry, changed, report, diff, tuple(refused))


def _stamp(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r}: not a whole number")
    return value


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{value!r}: not a number")
    return float(value)


def _opt_str(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{value!r}: not text")
    return value


def _counts(c: Mapping[str, Any]) -> RunCounts:
    return RunCounts(
        tests=_int(c["tests"]),
        passed=_int(c["passed"]),
        failed=_int(c["failed"]),
        errors=_int(c["errors"]),
        skipped=_int(c["skipped"]),
        retried=_int(c["retried"]),
        flaky=_int(c["flaky"]),
    )


def ingest_outcome(body: Any) -> IngestOutcome:
    """The object of ``POST /runs`` (`ingest --json`'s) as the record ingest returns."""
    if not isinstance(body["stored"], bool):
        raise TypeError("stored: not true or false")
    warnings = body["warnings"]
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise TypeError("warnings: not a list of texts")
    return IngestOutcome(
        meta=RunMeta(
            service=str(body["service"]),
            run_id=str(body["run_id"]),
            attempt=_int(body["attempt"]),
            commit=_opt_str(body["commit"]),
            branch=_opt_str(body["branch"]),
            timestamp=_stamp(body["timestamp"]),
            ci_provider=_opt_str(body["ci_provider"]),
        ),
        counts=_counts(body),
        coverage_files=_int(body["coverage_files"]),
        line_rate=_opt_float(body["line_rate"]),
        benchmarks=_int(body["benchmarks"]),
        stored=body["stored"],
        warnings=tuple(warnings),
    )


def _finding(f: Mapping[str, Any]) -> GateFailure:
    line = f.get("line")
    return GateFailure(
        kind=FailureKind(f["kind"]),
        subject=str(f["subject"]),
        message=str(f["message"]),
        service=str(f["service"]),
        file=_opt_str(f.get("file")),
        line=_int(line) if line is not None else None,
    )


def _coverage(subject: str, c: Mapping[str, Any]) -> CoverageFigure:
    patch = c["patch"]
    return CoverageFigure(
        subject=subject,
        files=_int(c["files"]),
        lines_valid=_int(c["lines_valid"]),
        lines_covered=_int(c["lines_covered"]),
        branches_valid=_int(c["branches_valid"]),
        branches_covered=_int(c["branches_covered"]),
        line_threshold=_opt_float(c["threshold"]),
        branch_threshold=_opt_float(c["branch_threshold"]),
        baseline_line_rate=_opt_float(c["baseline_line_rate"]),
        baseline_run=_opt_str(c["baseline_run"]),
        max_drop=_opt_float(c["max_drop"]),
        patch_valid=_int(patch["lines_valid"]) if patch else 0,
        patch_covered=_int(patch["lines_covered"]) if patch else 0,
        patch_threshold=_opt_float(patch["threshold"]) if patch else None,
        passed=bool(c["passed"]),
    )


def _benchmark(j: Mapping[str, Any]) -> BenchmarkJudgement:
    current = float(j["current"])
    baseline = _opt_float(j["baseline"])
    change = _opt_float(j["change"])
    if change is not None and baseline:
        # the JSON rounds the change to 6 places; the exact one is (current - baseline) /
        # baseline, as the gate computed it, and prints the same as the local command's
        exact = (current - baseline) / baseline
        if round(exact, 6) == change:
            change = exact
    return BenchmarkJudgement(
        name=str(j["name"]),
        unit=str(j["unit"]),
        direction=Direction(j["direction"]),
        current=current,
        verdict=BenchmarkVerdict(j["verdict"]),
        baseline=baseline,
        change=change,
        p_value=_opt_float(j["p_value"]),
        history=_int(j["history"]),
        threshold=_opt_float(j["threshold"]),
        ceiling=_opt_float(j["ceiling"]),
        message=str(j["message"]),
        group=str(j["group"]),
        failing=bool(j["failing"]),
    )


def decision_from_json(body: Any) -> GateDecision:
    """The gate's JSON (`gate --format json`, ``POST /gate``) back into the decision, so the
    verdict, the Markdown summary and the annotations are rendered here exactly as the local
    command renders them. Every field the renderers read is in the JSON; the rates are
    recomputed from the counts, as the decision computes them."""
    if body.get("decided") is False or not isinstance(body["passed"], bool):
        raise ValueError("not a decision")
    muted: Sequence[Mapping[str, Any]] = body["muted"]
    flaky: Sequence[Mapping[str, Any]] = body["flaky"]
    return GateDecision(
        passed=body["passed"],
        service=str(body["service"]),
        run_id=str(body["run_id"]),
        attempt=_int(body["attempt"]),
        commit=_opt_str(body["commit"]),
        branch=_opt_str(body["branch"]),
        counts=_counts(body["counts"]),
        failures=tuple(_finding(f) for f in body["failures"]),
        muted=tuple(
            MutedFailure(
                service=str(m["service"]),
                test_id=str(m["test_id"]),
                message=_opt_str(m["message"]),
                issue=_opt_str(m["issue"]),
                owner=_opt_str(m["owner"]),
                reason=_opt_str(m["reason"]),
                expires=date.fromisoformat(m["expires"]) if m["expires"] else None,
            )
            for m in muted
        ),
        flaky=tuple(
            FlakyInRun(
                service=str(f["service"]),
                test_id=str(f["test_id"]),
                attempts=_int(f["attempts"]),
                message=_opt_str(f["message"]),
            )
            for f in flaky
        ),
        warnings=tuple(_finding(w) for w in body["warnings"]),
        coverage=tuple(_coverage(str(s), c) for s, c in body["coverage"].items()),
        benchmarks=tuple(_benchmark(j) for j in body["benchmarks"]),
        base_ref=_opt_str(body["base_ref"]),
        stored=bool(body["stored"]),
        common_shift=_shift(body.get("common_shift")),
    )


def _shift(body: Any) -> RunShift | None:
    """``common_shift``: there only for a run whose benchmarks moved together."""
    if not isinstance(body, Mapping):
        return None
    return RunShift(
        factor=float(body["factor"]),
        moved=_int(body["moved"]),
        judged=_int(body["judged"]),
        scatter=float(body.get("scatter") or 0.0),
    )
