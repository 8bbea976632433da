"""A private Dovecot 2.3 IMAP server for the tests.

`dovecot` (session scope) starts one instance with its own configuration under a
temporary directory, listening on loopback: plain IMAP (STARTTLS offered) on `port`,
IMAP over TLS on `tls_port` with a throw-away certificate (`ca_file` trusts it), one
user with a Maildir. `imap_server` is the same server emptied before each test.
`dovecot_without_move` / `imap_server_without_move` hide the MOVE capability, to test
the COPY + STORE + EXPUNGE fallback.

Dovecot as root: the master may run as root, but login processes must not and mail
processes may not use uid 0, so those run as the packaged `dovecot`/`dovenull` users
and the mail user is `nobody`. As any other user everything runs as that user.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from tests.servers.certificates import write_self_signed
from tests.servers.requirements import missing_server

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
USER = "coord"
PASSWORD = "coord-test-password"
_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 15.0

# What a Dovecot 2.3 advertises after login, minus MOVE.
_CAPABILITIES_WITHOUT_MOVE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT CHILDREN NAMESPACE UIDPLUS "
    "UNSELECT LIST-EXTENDED ESEARCH LITERAL+"
)

_CONFIG = """\
# Private Dovecot instance for Liaison's tests; nothing here touches /etc/dovecot.
base_dir = {root}/run
state_dir = {root}/state
instance_name = liaison-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1

# Who runs what (see the module docstring for the root case).
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}

# One user from a passwd-file; every user's mail lives under the temporary directory.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests log in with a wrong password on purpose: no delay, and no per-IP penalty
# (disabling the anvil-auth-penalty socket is Dovecot's documented switch).
auth_failure_delay = 0
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir

# Notice new mail and answer IDLE quickly.
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
{extra}
{ssl}
# No chroot: only root may chroot, and a test server does not need it.
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""


@dataclass
class DovecotServer:
    """A running instance, with helpers that talk to it as the test user over IMAP."""

    root: Path
    port: int
    tls_port: int | None
    ca_file: Path | None
    process: subprocess.Popen[bytes] = field(repr=False)
    host: str = "127.0.0.1"
    user: str = USER
    password: str = field(default=PASSWORD, repr=False)

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- IMAP helpers -------------------------------------------------------------

    @contextmanager
    def client(self) -> Iterator[Any]:
        """A logged-in IMAPClient on the plain port, logged out afterwards."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            try:
                client.logout()
            except Exception:
                client.shutdown()

    def append(self, raw: bytes, folder: str = "INBOX", flags: Sequence[bytes] = ()) -> int:
        """Store a message as delivered mail; returns its UID."""
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            response = client.append(folder, raw, flags=tuple(flags))
        # Dovecot answers "[APPENDUID <uidvalidity> <uid>] Append completed."
        text = response.decode() if isinstance(response, bytes) else str(response)
        return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])

    def list_uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in client.search("ALL"))

    def fetch(self, folder: str = "INBOX") -> list[bytes]:
        """The raw bytes of every message in the folder, oldest UID first (not marked seen)."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = sorted(int(uid) for uid in client.search("ALL"))
            if not uids:
                return []
            response = client.fetch(uids, ["BODY.PEEK[]"])
            return [bytes(response[uid][b"BODY[]"]) for uid in uids]

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return {}
            return {int(uid): tuple(flags) for uid, flags in client.get_flags(uids).items()}

    def folders(self) -> list[str]:
        with self.client() as client:
            return sorted(name for _flags, _delimiter, name in client.list_folders())

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def reset(self) -> None:
        """Drop every session and empty the mailbox: INBOX only, no messages."""
        self.kick()
        with self.client() as client:
            names = [name for _flags, _delimiter, name in client.list_folders()]
            for name in sorted(names, key=len, reverse=True):  # children first
                if name.upper() != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            uids = client.search("ALL")
            if uids:
                client.delete_messages(uids)
                client.expunge()

    # -- server-side actions --------------------------------------------------------

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOVEADM, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def kick(self) -> None:
        """Close every IMAP session of the test user server-side (they get a BYE)."""
        result = self.doveadm("kick", self.user, check=False)
        if result.returncode not in (0, 68):  # 68: nobody to kick
            raise RuntimeError(f"doveadm kick failed: {result.stderr}")

    def session_pids(self) -> list[int]:
        """Process ids of the imap processes serving the test user right now."""
        result = self.doveadm("who", "-1", self.user, check=False)
        pids: list[int] = []
        for line in result.stdout.splitlines()[1:]:
            # username proto pid ip
            parts = line.split()
            if len(parts) >= 3 and parts[0] == self.user and parts[2].isdigit():
                pids.append(int(parts[2]))
        return pids

    def set_uidvalidity(self, value: int, folder: str = "INBOX") -> None:
        """Change a folder's UIDVALIDITY, as a restored or rebuilt mailbox would."""
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(value), folder)

    # -- lifecycle ------------------------------------------------------------------

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(_STOP_TIMEOUT)


def start_dovecot(*, capabilities: str | None = None) -> DovecotServer:
    """Start a private instance and wait until it greets; the caller stops it."""
    if not (os.access(DOVECOT, os.X_OK) and os.access(DOVEADM, os.X_OK)):
        missing_server(f"dovecot: {DOVECOT} or {DOVEADM} not found (Debian: dovecot-imapd)")
    # Not pytest's tmp_path: its parents are 0700, and the mail processes run as
    # another user when we are root; this directory is world-traversable.
    root = Path(tempfile.mkdtemp(prefix="liaison-dovecot-"))
    root.chmod(0o755)
    try:
        return _start_in(root, capabilities)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _start_in(root: Path, capabilities: str | None) -> DovecotServer:
    internal_user, login_user, mail_user = _service_users()
    mail = pwd.getpwnam(mail_user)
    (root / "mail").mkdir()
    if os.geteuid() == 0:
        os.chown(root / "mail", mail.pw_uid, mail.pw_gid)
    users = root / "users"
    users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    users.chmod(0o644)  # read by the auth worker, an unprivileged user

    pair = write_self_signed(root, "dovecot", "localhost")
    ca_file = pair[0] if pair is not None else None
    port, tls_port = _free_ports(2)
    if pair is not None:
        ssl = f"ssl = yes\nssl_cert = <{pair[0]}\nssl_key = <{pair[1]}"
    else:
        ssl, tls_port = "ssl = no", 0
    extra = f"imap_capability = {capabilities}" if capabilities else ""
    config = root / "dovecot.conf"
    config.write_text(
        _CONFIG.format(
            root=root,
            port=port,
            tls_port=tls_port,
            internal_user=internal_user,
            internal_group=grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name,
            login_user=login_user,
            mail_uid=mail.pw_uid,
            mail_gid=mail.pw_gid,
            extra=extra,
            ssl=ssl,
        )
    )
    # -F: stay in the foreground, so the process is ours to stop.
    with open(root / "stderr.log", "wb") as stderr:  # the child keeps its own copy
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
        )
    server = DovecotServer(
        root=root,
        port=port,
        tls_port=tls_port or None,
        ca_file=ca_file,
        process=process,
    )
    try:
        _wait_until_greeting(server)
    except BaseException:
        server.stop()
        raise
    return server


def _service_users() -> tuple[str, str, str]:
    """(internal user, login user, mail user) for the current effective user."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me

    def exists(name: str) -> bool:
        try:
            pwd.getpwnam(name)
        except KeyError:
            return False
        return True

    internal = "dovecot" if exists("dovecot") else "nobody"
    login = "dovenull" if exists("dovenull") else "nobody"
    return internal, login, "nobody"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_until_greeting(server: DovecotServer) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if server.process.poll() is not None:
            stderr = (server.root / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"dovecot exited at start-up:\n{stderr}\n{server.log}")
        try:
            with socket.create_connection((server.host, server.port), timeout=1) as sock:
                if sock.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot did not accept connections:\n{server.log}")
        time.sleep(0.05)  # polling a condition with a deadline, not waiting for luck


@contextmanager
def _running(capabilities: str | None = None) -> Iterator[DovecotServer]:
    server = start_dovecot(capabilities=capabilities)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    with _running() as server:
        yield server


@pytest.fixture
def imap_server(dovecot: DovecotServer) -> DovecotServer:
    dovecot.reset()
    return dovecot


@pytest.fixture(scope="session")
def dovecot_without_move() -> Iterator[DovecotServer]:
    with _running(capabilities=_CAPABILITIES_WITHOUT_MOVE) as server:
        yield server


@pytest.fixture
def imap_server_without_move(dovecot_without_move: DovecotServer) -> DovecotServer:
    dovecot_without_move.reset()
    return dovecot_without_move
