"""Small real HTTP servers on loopback that misbehave on purpose: slow, failing, or failing
first and then passing the requests on to a real `gatekeeper serve`. No mocks: the client
under test opens real connections to them."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


# (the request's number from 1, the request, set when the test is done) -> the reply
Respond = Callable[[int, Request, threading.Event], Reply]


@dataclass
class Fake:
    url: str
    requests: list[Request]
    stop: threading.Event  # set when the test is done: a sleeping handler wakes up


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        out = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return out
            out += handler.rfile.read(size)
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


@contextmanager
def fake_server(respond: Respond) -> Iterator[Fake]:
    """A threaded HTTP/1.1 server on a free loopback port that answers with ``respond``."""
    requests: list[Request] = []
    lock = threading.Lock()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            request = Request(self.command, self.path, dict(self.headers), _read_body(self))
            with lock:
                requests.append(request)
                number = len(requests)
            reply = respond(number, request, stop)
            if stop.is_set():
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up on a slow answer: expected here

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Fake(f"http://127.0.0.1:{server.server_address[1]}", requests, stop)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def forward(upstream: str, request: Request) -> Reply:
    """Pass a request on to a real server and bring its answer back."""
    target = urlsplit(upstream)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
    try:
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        conn.request(request.method, request.path, body=request.body or None, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        dropped = {"content-length", "transfer-encoding", "connection", "date", "server"}
        keep = {k: v for k, v in answer.getheaders() if k.lower() not in dropped}
        return Reply(answer.status, body, keep)
    finally:
        conn.close()


def sleeper(seconds: float) -> Respond:
    """Answer 200 only after ``seconds`` (or never, when the test ends first)."""

    def respond(_n: int, _request: Request, stop: threading.Event) -> Reply:
        stop.wait(seconds)
        return Reply(200, b"too late\n", {"Content-Type": "text/plain"})

    return respond
