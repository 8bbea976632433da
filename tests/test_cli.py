"""The ``liaison`` command as operators run it: the installed console script in a
subprocess, in a scratch working directory, with the store, attachments and outbound
Maildir under ``tmp_path`` through ``LIAISON_*`` variables (``LIAISON_CONFIG`` unset).

Read-only assertions share one database (``registered``), built once per module.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from store.migrate import head
from tests.servers.smtp_sink import SmtpSink
from tests.support import scratch_env

LIAISON = Path(sys.executable).with_name("liaison")
REQUEST = "req_01_outlook_zh_plain_gb2312_b64.eml"
HOSTILE = "hostile_04_attachment_path_traversal.eml"  # an attachment named ../../etc/passwd
NUMBER = "XT-2026-0001"
OFFICE = "office@example.com"
CORPUS_KEYS = {"kind", "headers", "fields", "errors", "reply", "calendar"}
COMMANDS = (
    "run",
    "check",
    "init",
    "db",
    "parse",
    "process",
    "requests",
    "show",
    "quarantine",
    "demo",
)


# ------------------------------------------------------------------ running the command


@dataclass(frozen=True)
class Ran:
    code: int
    out_bytes: bytes
    err: str

    @property
    def out(self) -> str:
        return self.out_bytes.decode("utf-8")

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Liaison:
    """``liaison ARGS`` with ``root`` as the working directory and scratch settings."""

    def __init__(self, root: Path, pycache: Path) -> None:
        self.root = root
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
        # Compiled modules go to a scratch tree shared by the session (each subprocess
        # would otherwise compile every import again); nothing is written to the checkout.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
        self.env = {**env, **scratch_env(root)}

    def __call__(self, *args: str | Path, env: Mapping[str, str] = {}) -> Ran:
        return _finish(self.popen(*args, env=env))

    def many(self, *commands: Sequence[str | Path]) -> list[Ran]:
        """Independent read-only invocations, run side by side (they start slowly)."""
        started = [self.popen(*command) for command in commands]
        return [_finish(process) for process in started]

    def popen(self, *args: str | Path, env: Mapping[str, str] = {}) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(LIAISON), *map(str, args)],
            cwd=self.root,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


def _finish(process: subprocess.Popen[bytes], timeout: float = 60) -> Ran:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Ran(process.returncode, out, err.decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not LIAISON.is_file():
        pytest.fail(f"the console script {LIAISON} is not installed (pip install -e .)")
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def liaison(tmp_path: Path, pycache: Path) -> Liaison:
    return Liaison(tmp_path, pycache)


def assert_one_error_line(ran: Ran, *fragments: str) -> str:
    """Non-zero exit, no traceback, exactly one line on stderr containing ``fragments``."""
    assert ran.code != 0, ran.out
    assert "Traceback" not in ran.err
    lines = ran.err.splitlines()
    assert len(lines) == 1, ran.err
    assert lines[0].startswith("liaison: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def assert_config_problems(ran: Ran, count: int) -> list[str]:
    """Non-zero exit, no traceback, a header line and then one line per problem."""
    assert ran.code != 0, ran.out
    assert "Traceback" not in ran.err
    header, *problems = ran.err.splitlines()
    assert header.endswith(f"configuration has {count} problem(s):"), header
    assert len(problems) == count, ran.err
    return problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def expected(corpus_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus_dir / "expected.json").read_text("utf-8"))
    return data


def maildir_files(maildir: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") for p in (maildir / sub).glob("*") if p.is_file())


def message(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def addresses(msg: email.message.EmailMessage, header: str = "To") -> list[str]:
    return [a.addr_spec for a in msg[header].addresses]


# ------------------------------------------------------------------------------- help


def test_top_level_help_lists_every_command(liaison: Liaison) -> None:
    ran = liaison("--help")
    assert ran.code == 0, ran.err
    assert ran.lines[0].startswith("usage: liaison")
    listed = {line.split()[0] for line in ran.lines if line.startswith("    ")}
    assert set(COMMANDS) <= listed


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("run", ["--config FILE"]),
        ("check", ["--config FILE"]),
        ("init", ["dir", "--force", "--config FILE"]),
        ("db", ["{upgrade}"]),
        ("parse", ["FILE.eml", "--json", "--config FILE"]),
        ("process", ["FILE.eml", "--config FILE"]),
        ("requests", ["--state STATE", "--json"]),
        ("show", ["number", "--json"]),
        ("quarantine", ["{list,show,retry}", "id", "--json"]),
        ("demo", ["--workdir WORKDIR"]),
    ],
)
def test_each_command_has_help_naming_its_arguments(
    liaison: Liaison, command: str, names: list[str]
) -> None:
    ran = liaison(command, "--help")
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"usage: liaison {command} ")
    usage = ran.out.split("\n\n")[0]  # the usage block, before the description
    for name in names:
        assert name in usage, f"{name!r} not in: {usage}"


# ---------------------------------------------------------------------- configuration


THREE_MISTAKES = """\
[mailbox]
adress = "coord@example.com"

[mailbox.listener]
port = "twenty-five"

[calendar]
timezone = "Asia/Shangai"

[security]
reply_token_secret_file = "reply-token.secret"
"""


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / "reply-token.secret"
    path.parent.mkdir(exist_ok=True)
    path.write_text("a-reply-token-secret-of-32-chars\n")
    return path


def test_check_lists_every_mistake_of_a_file(
    liaison: Liaison, tmp_path: Path, secret_file: Path
) -> None:
    config = secret_file.parent / "liaison.toml"
    config.write_text(THREE_MISTAKES, encoding="utf-8")

    ran = liaison("check", "--config", config)

    problems = assert_config_problems(ran, 3)
    by_key = {line.split()[0].rstrip(":"): line for line in problems}
    assert set(by_key) == {"mailbox.adress", "mailbox.listener.port", "calendar.timezone"}
    assert "did you mean mailbox.address" in by_key["mailbox.adress"]
    assert "twenty-five" in by_key["mailbox.listener.port"]
    assert "Asia/Shangai" in by_key["calendar.timezone"]
    assert all(str(config) in line for line in problems)
    assert "ok" not in ran.out


@pytest.fixture
def starter(liaison: Liaison, tmp_path: Path, secret_file: Path) -> Path:
    """``liaison init`` output plus a reply token secret file; the configuration's path."""
    ran = liaison("init", "conf")
    assert ran.code == 0, ran.err
    config = secret_file.parent / "liaison.toml"
    wrote = {Path(line.removeprefix("wrote ")) for line in ran.lines}
    assert len(wrote) == len(ran.lines) and all(line.startswith("wrote ") for line in ran.lines)
    assert {Path("conf/liaison.toml"), Path("conf/directory.toml")} <= wrote
    assert all((tmp_path / path).is_file() for path in wrote)
    text = config.read_text(encoding="utf-8")
    assert text.count("\n[security]\n") == 1
    secret = f'reply_token_secret_file = "{secret_file.name}"'
    config.write_text(text.replace("\n[security]\n", f"\n[security]\n{secret}\n"), "utf-8")
    return config


def test_init_files_pass_check_with_every_server_reachable(
    liaison: Liaison, starter: Path, tmp_path: Path
) -> None:
    listener = {"LIAISON_MAILBOX_LISTENER_PORT": str(free_port())}
    upgraded = liaison("db", "upgrade", "--config", starter, env=listener)
    assert upgraded.code == 0, upgraded.err

    ran = liaison("check", "--config", starter, env=listener)

    assert ran.code == 0, ran.out + ran.err
    assert ran.lines[0] == f"configuration: {starter}: ok"
    results = {line.split(":")[0]: line for line in ran.lines[1:]}
    assert set(results) == {
        "mailbox.listener",
        "outbound.maildir",
        "store",
        "store.attachments_dir",
        "workflow.profile",
        "directory",
    }
    assert all(": ok: " in line for line in results.values()), ran.out
    assert "standard: numbering XT-{year}-{seq:04d}" in results["workflow.profile"]
    assert listener["LIAISON_MAILBOX_LISTENER_PORT"] in results["mailbox.listener"]
    assert str(tmp_path / "liaison.db") in results["store"]
    assert "answered SELECT 1" in results["store"]
    assert str(starter.parent / "directory.toml") in results["directory"]


def test_check_names_the_server_it_cannot_reach(
    liaison: Liaison, starter: Path, secret_file: Path
) -> None:
    closed = free_port()  # bound and released: nothing listens there
    ran = liaison(
        "check",
        "--config",
        starter,
        env={
            "LIAISON_MAILBOX_BACKEND": "imap",
            "LIAISON_MAILBOX_IMAP_HOST": "127.0.0.1",
            "LIAISON_MAILBOX_IMAP_PORT": str(closed),
            "LIAISON_MAILBOX_IMAP_SECURITY": "none",
            "LIAISON_MAILBOX_IMAP_PASSWORD_FILE": str(secret_file),
        },
    )

    assert ran.code != 0
    assert "Traceback" not in ran.err
    failed = [line for line in ran.lines if "FAILED" in line]
    assert failed == [
        f"mailbox.imap: FAILED: cannot connect to 127.0.0.1:{closed}: Connection refused"
    ]
    assert any(line.startswith("store: ok: ") for line in ran.lines)


def test_check_names_every_problem_of_a_copied_profile(
    liaison: Liaison, starter: Path, tmp_path: Path
) -> None:
    text = (Path(__file__).parents[1] / "workflow" / "profiles" / "standard.toml").read_text(
        encoding="utf-8"
    )
    # Two mistakes: the overdue level removed, the numbering without a sequence.
    start = text.index("[service_levels.task_overdue]")
    end = text.find("\n[", start + 1)
    broken = text[:start] + (text[end + 1 :] if end != -1 else "")
    broken = broken.replace('numbering = "XT-{year}-{seq:04d}"', 'numbering = "XT-{year}"')
    assert broken.count("XT-{year}") == 1
    copied = tmp_path / "ours.toml"
    copied.write_text(broken, encoding="utf-8")

    ran = liaison("check", "--config", starter, env={"LIAISON_WORKFLOW_PROFILE": str(copied)})

    assert ran.code != 0
    assert "Traceback" not in ran.err
    [failed] = [line for line in ran.lines if line.startswith("workflow.profile: FAILED: ")]
    assert "task_overdue" in failed and "seq" in failed, failed


def test_init_refuses_to_overwrite_unless_forced(
    liaison: Liaison, starter: Path, secret_file: Path
) -> None:
    edited = starter.read_text(encoding="utf-8")

    refused = liaison("init", "conf")

    line = assert_one_error_line(refused, "refusing to overwrite", "liaison.toml", "--force")
    assert "Error:" not in line  # no exception class name for the operator
    assert starter.read_text(encoding="utf-8") == edited

    forced = liaison("init", "conf", "--force")
    assert forced.code == 0, forced.err
    assert f"wrote {Path('conf/liaison.toml')}" in forced.lines
    assert f'reply_token_secret_file = "{secret_file.name}"' in edited
    assert f'reply_token_secret_file = "{secret_file.name}"' not in starter.read_text("utf-8")


def test_a_missing_or_broken_configuration_file_is_one_problem(
    liaison: Liaison, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.toml"
    broken = tmp_path / "broken.toml"
    broken.write_text('[mailbox\nbackend = "imap"\n', encoding="utf-8")  # no closing ]

    # `check` reports configuration problems itself; every other command through main().
    runs = liaison.many(
        ["requests", "--config", missing],
        ["check", "--config", broken],
        ["show", NUMBER, "--config", broken],
    )

    for ran in runs:
        assert ran.out == ""
    [problem] = assert_config_problems(runs[0], 1)
    assert f"{missing} does not exist" in problem
    for ran in runs[1:]:
        [problem] = assert_config_problems(ran, 1)
        assert "not valid TOML" in problem and "line 1" in problem and str(broken) in problem


# ----------------------------------------------------------------------------- parse


def test_parse_json_walks_the_whole_corpus(liaison: Liaison, corpus_dir: Path) -> None:
    want = expected(corpus_dir)
    files = sorted(str(p) for p in corpus_dir.glob("*.eml"))
    assert len(files) == len(want)

    ran = liaison("parse", "--json", *files)

    assert ran.code == 0, ran.err
    assert ran.err == ""
    rows = [json.loads(line) for line in ran.lines]
    assert [row["file"] for row in rows] == files
    for row in rows:
        name = Path(row["file"]).name
        assert set(row) >= CORPUS_KEYS, name
        assert row["kind"] == want[name]["kind"], name
        assert row["headers"]["message_id"] == want[name]["headers"]["message_id"], name


def test_parse_text_takes_the_trusted_authserv_id_from_the_configuration(
    liaison: Liaison, corpus_dir: Path
) -> None:
    forged = corpus_dir / "hostile_01_forged_signoff_dmarc_fail.eml"  # dmarc=fail from the MX
    invalid = corpus_dir / "inv_01_missing_fields_outlook.eml"

    started = liaison.popen("parse", forged, env={"LIAISON_SECURITY_TRUSTED_AUTHSERV_ID": ""})
    trusted = liaison("parse", forged, invalid)
    untrusted = _finish(started)

    assert trusted.code == 0 and untrusted.code == 0, trusted.err + untrusted.err
    assert trusted.lines[0].startswith(f"{forged}: hostile: gao.jianguo@example.com: ")
    assert untrusted.lines[0].startswith(f"{forged}: reply: gao.jianguo@example.com: ")
    assert trusted.lines[1].startswith(f"{invalid}: invalid_request: ")
    assert "  error: receiving_departments: missing" in trusted.lines[2:]


def test_parse_of_unreadable_files_is_one_line(liaison: Liaison, tmp_path: Path) -> None:
    (tmp_path / "folder.eml").mkdir()
    missing, folder = liaison.many(["parse", "missing.eml"], ["parse", "--json", "folder.eml"])
    assert_one_error_line(missing, "cannot read missing.eml", "No such file or directory")
    assert_one_error_line(folder, "cannot read folder.eml")
    assert missing.out == folder.out == ""


# -------------------------------------------------------- db, process, requests, show


@dataclass(frozen=True)
class Registered:
    """One database: the request processed twice, then the hostile message."""

    liaison: Liaison
    upgrades: tuple[Ran, Ran]
    first: Ran
    sent_after_first: list[Path]
    again: Ran
    hostile: Ran
    quarantined: list[dict[str, Any]]  # `quarantine list --json` after the hostile one

    @property
    def root(self) -> Path:
        return self.liaison.root


def _quarantine_list(liaison: Liaison) -> list[dict[str, Any]]:
    ran = liaison("quarantine", "list", "--json")
    assert ran.code == 0, ran.err
    rows: list[dict[str, Any]] = json.loads(ran.out)
    return rows


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory, pycache: Path, corpus_dir: Path
) -> Registered:
    liaison = Liaison(tmp_path_factory.mktemp("registered"), pycache)
    upgrades = (liaison("db", "upgrade"), liaison("db", "upgrade"))
    first = liaison("process", corpus_dir / REQUEST)
    sent_after_first = maildir_files(liaison.root / "sent")
    again = liaison("process", corpus_dir / REQUEST)
    hostile = liaison("process", corpus_dir / HOSTILE)
    quarantined = _quarantine_list(liaison)
    return Registered(liaison, upgrades, first, sent_after_first, again, hostile, quarantined)


def test_db_upgrade_creates_the_schema_and_is_idempotent(registered: Registered) -> None:
    revision = head()
    for ran in registered.upgrades:
        assert ran.code == 0, ran.err
        assert ran.lines == [f"database at revision {revision}"]
    with sqlite3.connect(registered.root / "liaison.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(revision,)]
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert len(tables) > 5


def test_process_registers_the_request_and_sends_two_mails(
    registered: Registered, corpus_dir: Path
) -> None:
    want = expected(corpus_dir)[REQUEST]
    ran = registered.first
    assert ran.code == 0, ran.err
    assert ran.lines == [
        f"{corpus_dir / REQUEST}: processed (request {NUMBER})",
        "outbox: 2 sent, 0 deferred, 0 failed",
    ]
    assert len(registered.sent_after_first) == 2
    mails = [message(p.read_bytes()) for p in registered.sent_after_first]
    [ack] = [m for m in mails if m["Subject"].startswith("[需求已登记] ")]
    [notice] = [m for m in mails if m["Subject"].startswith("[评估] ")]
    assert addresses(ack) == [want["headers"]["from"]]
    assert NUMBER in ack["Subject"] and ack["In-Reply-To"] == want["headers"]["message_id"]
    assert addresses(notice) == [OFFICE]
    assert notice["Subject"] == f"[评估] {NUMBER} {want['fields']['title']}"
    # Everything went where the environment said, nothing under the working directory.
    assert not (registered.root / "var").exists()


def test_processing_the_same_file_again_has_no_second_effect(
    registered: Registered, corpus_dir: Path
) -> None:
    ran = registered.again
    assert ran.code == 0, ran.err
    assert ran.lines == [
        f"{corpus_dir / REQUEST}: duplicate (request)",
        "outbox: 0 sent, 0 deferred, 0 failed",
    ]
    sent_now = maildir_files(registered.root / "sent")
    assert [p.name for p in sent_now] == [p.name for p in registered.sent_after_first]


def test_requests_lists_the_request_with_its_state(
    registered: Registered, corpus_dir: Path
) -> None:
    title = expected(corpus_dir)[REQUEST]["fields"]["title"]
    rows, text, closed = registered.liaison.many(
        ["requests", "--json"], ["requests"], ["requests", "--state", "closed"]
    )
    assert rows.code == text.code == closed.code == 0, rows.err + text.err + closed.err
    [row] = json.loads(rows.out)
    assert (row["number"], row["state"], row["title"]) == (NUMBER, "registered", title)
    [line] = text.lines
    assert line.split()[:2] == [NUMBER, "registered"] and line.endswith(title)
    assert closed.lines == ["no requests"]


def test_show_json_has_the_contract_fields(registered: Registered, corpus_dir: Path) -> None:
    want = expected(corpus_dir)[REQUEST]
    ran = registered.liaison("show", NUMBER, "--json")
    assert ran.code == 0, ran.err
    view = json.loads(ran.out)

    assert view["number"] == NUMBER
    assert view["state"] == "registered"
    assert view["title"] == want["fields"]["title"]
    assert view["requester"] == want["headers"]["from"]
    assert view["due"] == want["fields"]["due"]
    assert view["lead_department"] is None  # not evaluated yet
    assert view["supporting_departments"] == []
    for key in ("meetings", "minutes", "tasks", "problems"):
        assert view[key] == [], key
    log = view["communications"]
    assert [(c["direction"], c["from"]) for c in log] == [
        ("in", want["headers"]["from"]),
        ("out", "coord@example.com"),
        ("out", "coord@example.com"),
    ]
    assert all({"at", "direction", "from", "to", "subject"} <= set(c) for c in log)
    assert log[0]["subject"] == want["headers"]["subject"]
    assert sorted(tuple(c["to"]) for c in log[1:]) == [(want["headers"]["from"],), (OFFICE,)]


def test_show_text_and_unknown_number(registered: Registered) -> None:
    text, unknown = registered.liaison.many(["show", NUMBER], ["show", "XT-2026-9999"])
    assert text.code == 0, text.err
    assert f"number: {NUMBER}" in text.lines and "state: registered" in text.lines
    assert_one_error_line(unknown, "XT-2026-9999")
    assert unknown.out == ""


def test_process_of_an_unreadable_file_changes_nothing(
    liaison: Liaison, corpus_dir: Path, tmp_path: Path
) -> None:
    ran = liaison("process", corpus_dir / REQUEST, "missing.eml")

    assert_one_error_line(ran, "cannot read missing.eml", "No such file or directory")
    assert ran.out == ""
    # Every file is read first: the readable one was not stored either.
    assert not (tmp_path / "liaison.db").exists()
    assert maildir_files(tmp_path / "sent") == []


# ------------------------------------------------------------------------ quarantine


def test_a_hostile_mail_is_quarantined_and_listed_with_its_reason(
    registered: Registered, corpus_dir: Path
) -> None:
    assert registered.hostile.code == 0, registered.hostile.err
    assert registered.hostile.lines[0] == f"{corpus_dir / HOSTILE}: quarantined (hostile)"
    assert registered.hostile.lines[1] == "outbox: 0 sent, 0 deferred, 0 failed"

    [row] = registered.quarantined
    assert "path_traversal" in row["reason"] and "../../etc/passwd" in row["reason"]
    assert row["source"] == f"file:{(corpus_dir / HOSTILE).resolve()}"

    text = registered.liaison("quarantine", "list")
    assert text.code == 0, text.err
    [line] = text.lines
    assert line.split()[0] == str(row["id"]) and line.endswith(row["reason"])


def test_quarantine_show_prints_the_reason_and_the_raw_message(
    registered: Registered, corpus_dir: Path
) -> None:
    [row] = registered.quarantined
    ran = registered.liaison("quarantine", "show", str(row["id"]))

    assert ran.code == 0, ran.err
    assert f"reason: {row['reason']}" in ran.lines
    assert f"id: {row['id']}" in ran.lines
    raw = (corpus_dir / HOSTILE).read_bytes()
    assert ran.out_bytes.endswith(raw)


def test_quarantine_retry_of_a_still_hostile_message_keeps_it(registered: Registered) -> None:
    [before] = registered.quarantined

    ran = registered.liaison("quarantine", "retry", str(before["id"]))

    assert ran.code != 0
    assert "Traceback" not in ran.err
    assert ran.lines == [f"message {before['id']}: quarantined: {before['reason']}"]
    [after] = _quarantine_list(registered.liaison)
    assert (after["id"], after["reason"]) == (before["id"], before["reason"])


def test_quarantine_of_an_unknown_id_is_one_line(registered: Registered) -> None:
    for ran in registered.liaison.many(
        ["quarantine", "show", "4711"], ["quarantine", "retry", "4711"]
    ):
        assert_one_error_line(ran, "no quarantined message with id 4711")
        assert ran.out == ""


# ------------------------------------------------------------------------- run, demo


def test_run_serves_the_listener_until_sigterm(
    liaison: Liaison, corpus_dir: Path, smtp_sink: SmtpSink
) -> None:
    port = free_port()
    service = liaison.popen(
        "run",
        env={
            "LIAISON_MAILBOX_LISTENER_PORT": str(port),
            "LIAISON_OUTBOUND_TRANSPORT": "smtp",
            "LIAISON_OUTBOUND_SMTP_HOST": smtp_sink.host,
            "LIAISON_OUTBOUND_SMTP_PORT": str(smtp_sink.port),
            "LIAISON_OUTBOUND_SMTP_SECURITY": "none",
        },
    )
    try:
        deadline = time.monotonic() + 30  # another process: poll until it listens
        while True:
            assert service.poll() is None, service.communicate()[1].decode()
            try:
                lmtp = smtplib.LMTP("127.0.0.1", port, timeout=10)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "liaison run never listened"
                time.sleep(0.05)
        with lmtp:
            refused = lmtp.sendmail(
                "liu.yang@example.com", ["coord@example.com"], (corpus_dir / REQUEST).read_bytes()
            )
        assert refused == {}

        sent = smtp_sink.wait_for(2, timeout=20)
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=30)

    assert service.returncode == 0, err.decode()
    assert b"Traceback" not in err
    subjects = sorted(str(message(m.raw)["Subject"]) for m in sent)
    assert [s.split()[:2] for s in subjects] == [["[评估]", NUMBER], ["[需求已登记]", NUMBER]]


def test_demo_runs_a_request_from_the_request_mail_to_the_archive(
    liaison: Liaison, tmp_path: Path
) -> None:
    from daemon.demo import STAGES

    workdir = tmp_path / "demo"

    ran = liaison("demo", "--workdir", workdir)

    assert ran.code == 0, ran.out + ran.err
    assert "Traceback" not in ran.err
    assert f"Registered as {NUMBER} (state: registered)" in ran.out
    # Every stage, in order.
    stages = [ln for ln in ran.lines if ln.startswith("== ") and ln[3].isdigit()]
    assert stages == [f"== {i}. {stage}" for i, stage in enumerate(STAGES, start=1)]
    # Each mail is printed with its kind and recipients, its subject below.
    sent = [ln.strip() for ln in ran.lines if ln.strip().startswith("[")]
    assert sent and all(NUMBER in s for s in sent)
    for kind, to in (
        ("requester/acknowledged", "wu.fang@example.com"),
        ("office/evaluation_notice", OFFICE),
        ("awaited/reminder", OFFICE),
        ("superior/escalation", "zhou.min@example.com"),
        ("author/minutes_objection", "zhao.lei@example.com"),
        ("lead/date_change_request", "zhao.lei@example.com"),
        ("approver/plan_approval", "gm@example.com"),
        ("participant/weekly_digest", "wu.fang@example.com"),
        ("lead/problem_notice", "zhao.lei@example.com"),
        ("owner/deliverable_returned", "li.na@example.com"),
        ("lead/review_request", "zhao.lei@example.com"),
        ("participant/archive_dossier", "wu.fang@example.com"),
    ):
        assert any(ln.strip().startswith(f"→ {kind} to {to}") for ln in ran.lines), kind
    assert sum(s.startswith("[会议邀请]") for s in sent) == 3  # kickoff, problem, review
    assert f"{NUMBER} now: state accepted, lead 研发部" in ran.out
    assert any("ACCEPTED" in ln and "finance.lead@example.com" in ln for ln in ran.lines)
    # The request's states, from the request mail to the archive.
    for change in (
        "registered → accepted",
        "accepted → minutes_confirming",
        "minutes_confirming → in_progress",
        "in_progress → delivered",
        "delivered → archived",
    ):
        assert f"{NUMBER}: {change}" in ran.out, change
    assert f"== {NUMBER} 供应商对账流程线上化: archived" in ran.out
    assert ran.lines[-1] == "Demo finished: ok"
    # Every mail it reports is in the outbound Maildir, and nothing else.
    [count] = [ln for ln in ran.lines if "mails sent to the Maildir" in ln]
    mails = int(count.split("; ")[1].split()[0])
    assert mails > 60 and len(maildir_files(workdir / "sent")) == mails


def test_requests_carry_the_next_deadline(registered: Registered) -> None:
    ran = registered.liaison("requests", "--json")
    [row] = json.loads(ran.out)
    deadline = datetime.fromisoformat(row["next_deadline"])
    created = datetime.fromisoformat(row["created_at"])
    # Evaluation within one working day: the end of the next working day, 18:00 local.
    assert deadline > created
    assert (deadline.hour, deadline.minute) == (18, 0)
    assert deadline.date() > created.date()


def test_reading_commands_never_migrate(liaison: Liaison) -> None:
    for command in (
        ["requests"],
        ["show", "XT-2026-0001"],
        ["quarantine", "list"],
        ["review", "list"],
    ):
        ran = liaison(*command)
        assert ran.code != 0
        line = assert_one_error_line(ran, "liaison db upgrade")
        assert "schema" in line


def test_review_lists_approves_and_refuses_twice(liaison: Liaison, corpus_dir: Path) -> None:
    from tests.support import build_reply

    assert liaison("process", corpus_dir / REQUEST).code == 0
    notice = next(
        p
        for p in maildir_files(liaison.root / "sent")
        if message(p.read_bytes())["Subject"].startswith("[评估]")
    )
    # The office's assistant answers: not the person asked, so held for review.
    reply = liaison.root / "reply.eml"
    reply.write_bytes(
        build_reply(
            notice.read_bytes(),
            sender="assistant@example.com",
            body="受理 牵头部门：研发部 配合部门：采购部\n",
        )
    )
    assert liaison("process", reply).code == 0
    listed = liaison("review", "list", "--json")
    [held] = json.loads(listed.out)
    assert (held["number"], held["reason"], held["action"]) == (
        NUMBER,
        "wrong_sender",
        "evaluate_accept",
    )
    text = liaison("review", "list")
    assert "wrong_sender" in text.out and NUMBER in text.out

    approved = liaison("review", "approve", str(held["id"]), "--by", "zhou.min@example.com")
    assert approved.code == 0, approved.err
    assert f"review {held['id']}: applied" in approved.out
    [row] = json.loads(liaison("requests", "--json").out)
    assert row["state"] == "accepted"
    assert json.loads(liaison("review", "list", "--json").out) == []

    again = liaison("review", "approve", str(held["id"]))
    assert again.code != 0
    assert_one_error_line(again, str(held["id"]))
    unknown = liaison("review", "reject", "999")
    assert unknown.code != 0
    assert_one_error_line(unknown, "999")
