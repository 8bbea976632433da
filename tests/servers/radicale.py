"""A private Radicale CalDAV server for the tests, and an HTTP server that fails on demand.

``radicale_server`` (session scope) runs ``python -m radicale`` from the test's own
interpreter on ``127.0.0.1`` and a free port, with filesystem storage under a temporary
directory and ``htpasswd`` authentication (plain text, one user, no delay after a wrong
password, so the tests can check both sides of authentication). It waits until the
server answers and stops it at the end of the session.

``radicale_calendar`` (function scope) creates a fresh, empty calendar collection on
that server with ``MKCALENDAR`` for each test, so tests never see each other's events.
It offers ``stored()``, which reads what the server keeps on disk for a resource: the
truth a test can hold the client side to, independently of the client's own reading.

``failing_http_server`` (function scope) is a plain HTTP server on loopback that answers
every request with the status the test sets (503 unless told otherwise), for the
failures Radicale cannot be told to produce (5xx, 429).

A missing ``radicale`` package is a missing server (skip, or fail under
``LIAISON_REQUIRE_SERVERS=1``).
"""

from __future__ import annotations

import importlib.util
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.servers.requirements import missing_server

USER = "liaison"
PASSWORD = "radicale-test-password"
_HOST = "127.0.0.1"
_START_TIMEOUT = 20.0
_STOP_TIMEOUT = 10.0

_CONFIG = """\
# Private Radicale instance for Liaison's tests.
[server]
hosts = {host}:{port}
max_connections = 20
delay_on_error = 0

[auth]
type = htpasswd
htpasswd_filename = {root}/users
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {root}/collections

[logging]
level = warning
"""

_MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>{name}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>"""


@dataclass
class RadicaleServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    host: str = _HOST
    username: str = USER
    password: str = field(default=PASSWORD, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def log(self) -> str:
        path = self.root / "radicale.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """A raw HTTP request as the test user (urllib, not the code under test)."""
        import base64

        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=body or None,
            method=method,
            headers={"Authorization": f"Basic {token}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())


@dataclass
class RadicaleCalendar:
    """One fresh calendar collection on the session's server."""

    server: RadicaleServer
    path: str  # absolute path of the collection, with a trailing slash

    @property
    def url(self) -> str:
        return self.server.url.rstrip("/") + self.path

    @property
    def username(self) -> str:
        return self.server.username

    @property
    def password(self) -> str:
        return self.server.password

    def stored(self, href: str) -> bytes:
        """The bytes Radicale keeps on disk for the resource at ``href`` (a full URL)."""
        path = unquote(urlsplit(href).path)
        file = self.server.root / "collections" / "collection-root" / path.lstrip("/")
        return file.read_bytes()

    def put(self, name: str, ics: bytes) -> int:
        """Store ``ics`` as ``<collection>/<name>`` directly, bypassing the code under test."""
        status, _body = self.server.request(
            "PUT", self.path + name, ics, {"Content-Type": "text/calendar; charset=utf-8"}
        )
        return status


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{_HOST}:{port}/", timeout=1) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    if importlib.util.find_spec("radicale") is None:
        missing_server("Radicale (pip package 'radicale') is not installed")
    root = tmp_path_factory.mktemp("radicale")
    (root / "users").write_text(f"{USER}:{PASSWORD}\n")
    port = _free_port()
    (root / "config").write_text(_CONFIG.format(host=_HOST, port=port, root=root))
    log = (root / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(root / "config")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    server = RadicaleServer(root=root, port=port, process=process)
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers(port):
            if process.poll() is not None:
                missing_server(f"Radicale exited with {process.returncode}: {server.log[-2000:]}")
            if time.monotonic() > deadline:
                missing_server(f"Radicale did not answer on port {port}: {server.log[-2000:]}")
            time.sleep(0.05)  # start-up only: the server gives no other signal
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def radicale_calendar(radicale_server: RadicaleServer) -> RadicaleCalendar:
    """A new, empty team calendar ``/liaison/team-<random>/`` for this test."""
    path = f"/{USER}/team-{secrets.token_hex(6)}/"
    status, body = radicale_server.request(
        "MKCALENDAR",
        path,
        _MKCALENDAR.format(name="Liaison team calendar").encode(),
        {"Content-Type": "application/xml; charset=utf-8"},
    )
    if status != 201:
        pytest.fail(f"MKCALENDAR {path}: {status} {body!r}\n{radicale_server.log[-2000:]}")
    return RadicaleCalendar(server=radicale_server, path=path)


# --- a server that fails on demand -------------------------------------------------------


@dataclass
class FailingHttpServer:
    """Answers every request with ``status`` (and ``headers``); counts the requests."""

    port: int
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}/"


@pytest.fixture
def failing_http_server() -> Iterator[FailingHttpServer]:
    state = FailingHttpServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            state.requests.append(f"{self.command} {self.path}")
            body = f"status {state.status}\n".encode()
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_REPORT = do_PROPFIND = do_DELETE = do_OPTIONS = _answer

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer((_HOST, 0), Handler)
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
