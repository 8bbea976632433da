"""The configuration: embedded defaults, the shipped example, overrides, secrets, every
problem reported at once, starter files, and the connectivity checks."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import sqlite3
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from daemon.checks import CheckResult, check_servers
from daemon.init_files import StarterFilesExistError, read_example, write_starter_files
from daemon.settings import (
    DEFAULT_CONFIG_PATH,
    DEVELOPMENT_REPLY_TOKEN_SECRET,
    derive_message_id_domain,
    load_settings,
    parse_working_hours,
    settings_as_dict,
)
from daemon.settings_errors import ConfigError, ConfigProblem
from daemon.settings_schema import SCHEMA, all_keys, env_names

SECRET = "k7Qz0m3Xr9LwT2pVb8NcY5sHd1GfJ4aE"  # 32 characters
SECRET_LINE = f'[security]\nreply_token_secret = "{SECRET}"\n'


def write_config(directory: Path, text: str, name: str = "liaison.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[ConfigProblem]:
    return excinfo.value.problems


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def example_path() -> Iterator[Path]:
    with resources.as_file(resources.files("daemon.examples") / "liaison.toml") as path:
        yield path


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    """A systemd-style credentials directory holding the reply token secret."""
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "reply-token-secret").write_text(SECRET + "\n", encoding="utf-8")
    return directory


# ---------------------------------------------------------------- embedded defaults


def test_embedded_defaults_load_with_no_file_and_no_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if DEFAULT_CONFIG_PATH.exists():
        pytest.skip(f"{DEFAULT_CONFIG_PATH} exists on this machine")
    monkeypatch.chdir(tmp_path)

    settings = load_settings(environ={})

    assert settings.source is None
    assert settings.base_dir == tmp_path
    assert settings.mailbox.backend == "listener"
    assert settings.mailbox.address == "coord@example.com"
    assert settings.mailbox.message_id_domain == "coord.example.com"
    listener = settings.mailbox.listener
    assert (listener.host, listener.port, listener.protocol) == ("127.0.0.1", 2525, "lmtp")
    assert settings.outbound.transport == "maildir"
    assert settings.outbound.maildir == tmp_path / "var" / "sent"
    assert settings.store.url == f"sqlite:///{tmp_path}/var/liaison.db"
    assert settings.store.attachments_dir == tmp_path / "var" / "attachments"
    assert settings.calendar.backend == "imip"
    assert settings.calendar.timezone == "Asia/Shanghai"
    assert settings.calendar.zone.key == "Asia/Shanghai"
    assert settings.calendar.working_hours == (dt.time(9), dt.time(18))
    assert settings.workdays.country == "CN"
    assert settings.workflow.profile == "standard"
    assert settings.workflow.coordinators == ("office@example.com",)
    assert settings.workflow.rate_limit_per_day == 20
    assert settings.directory.file is None
    assert settings.security.development_secret is True
    assert settings.security.reply_token_secret == DEVELOPMENT_REPLY_TOKEN_SECRET
    assert settings.logging.level == "INFO"


def test_embedded_defaults_take_environment_overrides_and_real_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if DEFAULT_CONFIG_PATH.exists():
        pytest.skip(f"{DEFAULT_CONFIG_PATH} exists on this machine")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        environ={
            "LIAISON_MAILBOX_LISTENER_PORT": "0",
            "LIAISON_SECURITY_REPLY_TOKEN_SECRET": SECRET,
        }
    )
    assert settings.source is None
    assert settings.mailbox.listener.port == 0
    assert settings.security.reply_token_secret == SECRET
    assert settings.security.development_secret is False


# ------------------------------------------------------------------ shipped example


def test_shipped_example_loads_with_a_systemd_credential(
    example_path: Path, credentials: Path
) -> None:
    settings = load_settings(example_path, environ={"CREDENTIALS_DIRECTORY": str(credentials)})

    assert settings.source == example_path
    assert settings.security.reply_token_secret == SECRET
    assert settings.security.development_secret is False
    assert settings.outbound.from_name == "协调办公室"
    assert settings.directory.file == example_path.parent / "directory.toml"
    assert settings.directory.file.is_file()
    assert settings.store.url == f"sqlite:///{example_path.parent}/var/liaison.db"


def test_shipped_example_loads_with_a_secret_file_from_the_environment(
    example_path: Path, tmp_path: Path
) -> None:
    secret_file = tmp_path / "reply-token-secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    settings = load_settings(
        example_path, environ={"LIAISON_SECURITY_REPLY_TOKEN_SECRET_FILE": str(secret_file)}
    )
    assert settings.security.reply_token_secret == SECRET


def test_shipped_example_switched_to_imap_and_smtp_needs_only_the_imap_password(
    example_path: Path, credentials: Path
) -> None:
    environ = {
        "CREDENTIALS_DIRECTORY": str(credentials),
        "LIAISON_MAILBOX_BACKEND": "imap",
        "LIAISON_OUTBOUND_TRANSPORT": "smtp",
    }
    with pytest.raises(ConfigError) as excinfo:
        load_settings(example_path, environ=environ)
    assert [p.where for p in problems_of(excinfo)] == ["mailbox.imap.password"]
    assert "imap-password" in problems_of(excinfo)[0].message

    (credentials / "imap-password").write_text("imap secret\n", encoding="utf-8")
    settings = load_settings(example_path, environ=environ)
    assert settings.mailbox.imap.host == "imap.example.com"
    assert settings.mailbox.imap.port == 993
    assert settings.mailbox.imap.password == "imap secret"
    assert settings.outbound.smtp.host == "smtp.example.com"
    assert settings.outbound.smtp.port == 587


def test_shipped_example_without_any_secret_names_the_missing_secret(
    example_path: Path,
) -> None:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(example_path, environ={})
    (problem,) = problems_of(excinfo)
    assert problem.where == "security.reply_token_secret"
    assert "reply-token-secret" in problem.message
    assert problem.source == str(example_path)


def _documented_keys(text: str) -> set[str]:
    """Dotted keys appearing in the example, set or commented out."""
    section = ""
    found: set[str] = set()
    for line in text.splitlines():
        header = re.fullmatch(r"\[([a-z_.]+)\]\s*(#.*)?", line.strip())
        if header:
            section = header.group(1)
            continue
        key = re.match(r"#?\s*([a-z_]+)\s*=", line.strip())
        if key and section:
            found.add(f"{section}.{key.group(1)}")
    return found


def test_shipped_example_documents_every_key() -> None:
    documented = _documented_keys(read_example("liaison.toml"))
    assert set(all_keys()) - documented == set()
    assert documented - set(all_keys()) == set()


def test_environment_variable_names_are_unique() -> None:
    assert len(env_names()) == len(all_keys())
    assert env_names()["LIAISON_MAILBOX_IMAP_HOST"] == "mailbox.imap.host"
    assert env_names()["LIAISON_OUTBOUND_SMTP_PORT"] == "outbound.smtp.port"
    assert env_names()["LIAISON_SECURITY_REPLY_TOKEN_SECRET_FILE"] == (
        "security.reply_token_secret_file"
    )


# --------------------------------------------------------------------------- problems


def test_three_mistakes_are_reported_together(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[mailbox.imap]
port = "abc"
procesed_folder = "Done"

[calendar]
timezone = "Asia/Shangai"
"""
        + SECRET_LINE,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})

    problems = problems_of(excinfo)
    assert len(problems) == 3
    by_where = {p.where: p for p in problems}
    assert set(by_where) == {
        "mailbox.imap.port",
        "mailbox.imap.procesed_folder",
        "calendar.timezone",
    }
    assert 'the string "abc"' in by_where["mailbox.imap.port"].message
    assert "did you mean mailbox.imap.processed_folder?" in (
        by_where["mailbox.imap.procesed_folder"].message
    )
    assert "Asia/Shangai" in by_where["calendar.timezone"].message
    assert all(p.source == str(path) for p in problems)
    lines = str(excinfo.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("mailbox.imap.port: ")


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ('[mailbx]\nbackend = "imap"\n', "mailbx", "did you mean mailbox?"),
        ('[mailbox]\nhost = "x"\n', "mailbox.host", "mailbox.imap.host"),
        ('[mailbox]\nbackend = "pop3"\n', "mailbox.backend", '"pop3" is not one of'),
        ('[mailbox]\naddress = "coord"\n', "mailbox.address", "not an email address"),
        ("[mailbox.listener]\nport = 70000\n", "mailbox.listener.port", "65535"),
        ("[mailbox.imap]\nport = 0\n", "mailbox.imap.port", "from 1 to 65535"),
        ("[mailbox.imap]\nidle_timeout = 3600\n", "mailbox.imap.idle_timeout", "1740"),
        ("[mailbox]\nsubaddress = 1\n", "mailbox.subaddress", "expected true or false"),
        ("mailbox = 3\n", "mailbox", "expected a table"),
        ('[calendar]\nworking_hours = "9-18"\n', "calendar.working_hours", "09:00-18:00"),
        ('[calendar]\nworking_hours = "18:00-09:00"\n', "calendar.working_hours", "after"),
        ('[workdays]\nextra_holidays = ["2026-02-30"]\n', "workdays.extra_holidays", "ISO"),
        ('[workdays]\ncountry = "XX"\n', "workdays.country", '"XX"'),
        ("[workflow]\ncoordinators = []\n", "workflow.coordinators", "at least one"),
        (
            '[workflow]\ncoordinators = ["a@example.com", 3]\n',
            "workflow.coordinators",
            "item 2 is the integer 3",
        ),
        ('[workflow]\nprofile = "./missing.toml"\n', "workflow.profile", "does not exist"),
        ('[store]\nurl = "mysql://x/y"\n', "store.url", "not supported"),
        ('[logging]\nlevel = "LOUD"\n', "logging.level", "DEBUG"),
        (
            '[security]\nallowed_sender_domains = ["exa mple.com"]\n',
            "security.allowed_sender_domains",
            "not a domain",
        ),
    ],
)
def test_each_kind_of_mistake_is_one_problem(
    tmp_path: Path, text: str, where: str, fragment: str
) -> None:
    secret = "" if text.startswith("[security]") else SECRET_LINE
    if text.startswith("[security]"):
        text = text.replace("[security]\n", SECRET_LINE)
    path = write_config(tmp_path, text + secret)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    (problem,) = problems_of(excinfo)
    assert problem.where == where
    assert fragment in problem.message


def test_overlapping_extra_days_are_a_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[workdays]\nextra_holidays = [2026-10-10]\nextra_workdays = ["2026-10-10"]\n'
        + SECRET_LINE,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    (problem,) = problems_of(excinfo)
    assert problem.where == "workdays.extra_workdays"
    assert "2026-10-10" in problem.message


def test_backend_requirements_are_all_reported(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[mailbox]
backend = "imap"
[outbound]
transport = "smtp"
[outbound.smtp]
username = "coord"
[calendar]
backend = "caldav"
"""
        + SECRET_LINE,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    assert [p.where for p in problems_of(excinfo)] == [
        "mailbox.imap.host",
        "mailbox.imap.username",
        "mailbox.imap.password",
        "outbound.smtp.host",
        "outbound.smtp.password",
        "calendar.caldav.url",
    ]
    assert 'required when mailbox.backend = "imap"' in problems_of(excinfo)[0].message


def test_ews_anywhere_needs_the_exchange_account(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[calendar]\nbackend = "ews"\n' + SECRET_LINE)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    assert [p.where for p in problems_of(excinfo)] == [
        "mailbox.ews.server",
        "mailbox.ews.username",
        "mailbox.ews.password",
    ]


def test_a_file_without_a_reply_token_secret_is_a_problem(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[mailbox]\naddress = "coord@example.com"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    assert [p.where for p in problems_of(excinfo)] == ["security.reply_token_secret"]


def test_a_short_reply_token_secret_is_a_problem(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[security]\nreply_token_secret = "short"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    (problem,) = problems_of(excinfo)
    assert "at least 16" in problem.message


def test_invalid_toml_is_one_problem_with_the_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[mailbox]\nbackend = imap\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={"LIAISON_MAILBOX_PORTT": "1"})
    (problem,) = problems_of(excinfo)
    assert "not valid TOML" in problem.message
    assert "line 2" in problem.message


def test_a_missing_configuration_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ={"LIAISON_CONFIG": str(missing)})
    (problem,) = problems_of(excinfo)
    assert str(missing) in problem.message
    assert problem.source == "LIAISON_CONFIG"


def test_liaison_config_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[mailbox]\naddress = "desk@example.org"\n' + SECRET_LINE)
    settings = load_settings(environ={"LIAISON_CONFIG": str(path)})
    assert settings.source == path
    assert settings.mailbox.address == "desk@example.org"


def test_relative_paths_resolve_against_the_configuration_directory(tmp_path: Path) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (config_dir / "profiles").mkdir()
    (config_dir / "profiles" / "mine.toml").write_text("", encoding="utf-8")
    path = write_config(
        config_dir,
        """
[outbound]
maildir = "spool/sent"
[store]
url = "sqlite:///db/liaison.db"
attachments_dir = "files"
[directory]
file = "people.toml"
[workflow]
profile = "profiles/mine.toml"
[mailbox.imap]
ca_file = "~/ca.pem"
"""
        + SECRET_LINE,
    )
    settings = load_settings(path, environ={})
    assert settings.outbound.maildir == config_dir / "spool" / "sent"
    assert settings.store.url == f"sqlite:///{config_dir}/db/liaison.db"
    assert settings.store.attachments_dir == config_dir / "files"
    assert settings.directory.file == config_dir / "people.toml"
    assert settings.workflow.profile == str(config_dir / "profiles" / "mine.toml")
    assert settings.mailbox.imap.ca_file == Path.home() / "ca.pem"


# ------------------------------------------------------------------ environment


def test_environment_overrides_win_over_the_file_with_typed_values(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[mailbox]
subaddress = true
[mailbox.listener]
port = 2525
[workflow]
coordinators = ["office@example.com"]
rate_limit_per_day = 20
"""
        + SECRET_LINE,
    )
    settings = load_settings(
        path,
        environ={
            "LIAISON_MAILBOX_LISTENER_PORT": "2626",
            "LIAISON_MAILBOX_SUBADDRESS": "no",
            "LIAISON_WORKFLOW_COORDINATORS": "pmo@example.com, office@example.com",
            "LIAISON_WORKFLOW_RATE_LIMIT_PER_DAY": "5",
            "LIAISON_WORKDAYS_EXTRA_HOLIDAYS": '["2026-10-09", "2026-12-31"]',
            "LIAISON_SECURITY_ALLOWED_SENDER_DOMAINS": "",
            "LIAISON_REQUIRE_SERVERS": "1",  # not a configuration key: left alone
        },
    )
    assert settings.mailbox.listener.port == 2626
    assert settings.mailbox.subaddress is False
    assert settings.workflow.coordinators == ("pmo@example.com", "office@example.com")
    assert settings.workflow.rate_limit_per_day == 5
    assert settings.workdays.extra_holidays == (dt.date(2026, 10, 9), dt.date(2026, 12, 31))
    assert settings.security.allowed_sender_domains == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False), ("no", False)],
)
def test_boolean_environment_values(tmp_path: Path, text: str, expected: bool) -> None:
    path = write_config(tmp_path, SECRET_LINE)
    settings = load_settings(path, environ={"LIAISON_MAILBOX_SUBADDRESS": text})
    assert settings.mailbox.subaddress is expected


def test_bad_environment_values_name_the_variable(tmp_path: Path) -> None:
    path = write_config(tmp_path, SECRET_LINE)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(
            path,
            environ={
                "LIAISON_OUTBOUND_SMTP_PORT": "smtp",
                "LIAISON_MAILBOX_SUBADDRESS": "maybe",
                "LIAISON_WORKFLOW_COORDINATORS": '["a@example.com", 1]',
                "LIAISON_MAILBOX_IMAP_HOTS": "imap.example.com",
            },
        )
    problems = {p.source: p for p in problems_of(excinfo)}
    assert set(problems) == {
        "LIAISON_OUTBOUND_SMTP_PORT",
        "LIAISON_MAILBOX_SUBADDRESS",
        "LIAISON_WORKFLOW_COORDINATORS",
        "environment",
    }
    assert problems["LIAISON_OUTBOUND_SMTP_PORT"].where == "outbound.smtp.port"
    assert problems["environment"].where == "LIAISON_MAILBOX_IMAP_HOTS"
    assert "did you mean LIAISON_MAILBOX_IMAP_HOST?" in problems["environment"].message


# ---------------------------------------------------------------------- secrets


def test_secret_from_a_file_relative_to_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "imap").write_text("pa ss\n", encoding="utf-8")
    (tmp_path / "secrets" / "token").write_text(SECRET + "\r\n", encoding="utf-8")
    path = write_config(
        tmp_path,
        """
[mailbox]
backend = "imap"
[mailbox.imap]
host = "imap.example.com"
username = "coord"
password_file = "secrets/imap"
[security]
reply_token_secret_file = "secrets/token"
""",
    )
    settings = load_settings(path, environ={})
    assert settings.mailbox.imap.password == "pa ss"
    assert settings.security.reply_token_secret == SECRET


def test_secrets_from_the_credentials_directory(tmp_path: Path, credentials: Path) -> None:
    (credentials / "smtp-password").write_text("relay-pass\n", encoding="utf-8")
    (credentials / "store-password").write_text("p@ss/word\n", encoding="utf-8")
    path = write_config(
        tmp_path,
        """
[outbound]
transport = "smtp"
[outbound.smtp]
host = "smtp.example.com"
username = "coord"
[store]
url = "postgresql+psycopg://liaison@db.example.com/liaison"
""",
    )
    settings = load_settings(path, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert settings.outbound.smtp.password == "relay-pass"
    assert settings.security.reply_token_secret == SECRET
    from sqlalchemy.engine import make_url

    assert make_url(settings.store.url).password == "p@ss/word"


def test_an_explicit_secret_file_beats_the_credentials_directory(
    tmp_path: Path, credentials: Path
) -> None:
    (tmp_path / "token").write_text("T" * 20, encoding="utf-8")
    path = write_config(tmp_path, '[security]\nreply_token_secret_file = "token"\n')
    settings = load_settings(path, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert settings.security.reply_token_secret == "T" * 20


def test_the_environment_replaces_a_secret_file_given_in_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[security]\nreply_token_secret_file = "absent"\n')
    settings = load_settings(path, environ={"LIAISON_SECURITY_REPLY_TOKEN_SECRET": SECRET})
    assert settings.security.reply_token_secret == SECRET


def test_a_missing_secret_file_is_one_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[mailbox]
backend = "imap"
[mailbox.imap]
host = "imap.example.com"
username = "coord"
password_file = "/nonexistent/imap-password"
"""
        + SECRET_LINE,
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    (problem,) = problems_of(excinfo)
    assert problem.where == "mailbox.imap.password_file"
    assert "/nonexistent/imap-password does not exist" in problem.message
    assert problem.source == str(path)


def test_an_empty_secret_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n", encoding="utf-8")
    path = write_config(tmp_path, '[security]\nreply_token_secret_file = "token"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    (problem,) = problems_of(excinfo)
    assert "is empty" in problem.message


def test_a_secret_given_inline_and_as_a_file_is_a_problem(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f'[security]\nreply_token_secret = "{SECRET}"\nreply_token_secret_file = "x"\n',
    )
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, environ={})
    (problem,) = problems_of(excinfo)
    assert problem.where == "security.reply_token_secret"
    assert "not both" in problem.message


def test_secrets_are_masked_for_display(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"""
[mailbox]
backend = "imap"
[mailbox.imap]
host = "imap.example.com"
username = "coord"
password = "imap-inline-secret"
[store]
url = "postgresql+psycopg://liaison:db-inline-secret@db.example.com/liaison"
{SECRET_LINE}""",
    )
    settings = load_settings(path, environ={})
    shown = settings_as_dict(settings)
    text = json.dumps(shown, ensure_ascii=False)
    for secret in ("imap-inline-secret", "db-inline-secret", SECRET):
        assert secret not in text
        assert secret not in repr(settings)
    assert shown["mailbox"]["imap"]["password"] == "********"
    assert shown["mailbox"]["ews"]["password"] == ""
    assert shown["security"]["reply_token_secret"] == "********"
    assert shown["store"]["url"] == "postgresql+psycopg://liaison:***@db.example.com/liaison"
    assert shown["calendar"]["working_hours"] == "09:00-18:00"
    assert shown["source"] == str(path)


# ------------------------------------------------------------------- derived values


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("coord@example.com", "coord.example.com"),
        ("Coord.Office@Example.COM", "coord.office.example.com"),
        ("xt@mail.corp.example.cn", "xt.mail.corp.example.cn"),
    ],
)
def test_message_id_domain_is_derived_from_the_address(
    tmp_path: Path, address: str, expected: str
) -> None:
    assert derive_message_id_domain(address) == expected
    path = write_config(tmp_path, f'[mailbox]\naddress = "{address}"\n' + SECRET_LINE)
    assert load_settings(path, environ={}).mailbox.message_id_domain == expected


def test_a_configured_message_id_domain_wins(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[mailbox]\naddress = "coord@example.com"\nmessage_id_domain = "Liaison.Example.com"\n'
        + SECRET_LINE,
    )
    assert load_settings(path, environ={}).mailbox.message_id_domain == "liaison.example.com"


@pytest.mark.parametrize(
    ("security", "imap_port", "smtp_security", "smtp_port"),
    [("tls", 993, "starttls", 587), ("starttls", 143, "tls", 465), ("none", 143, "none", 25)],
)
def test_default_ports_follow_security(
    tmp_path: Path, security: str, imap_port: int, smtp_security: str, smtp_port: int
) -> None:
    path = write_config(
        tmp_path,
        f'[mailbox.imap]\nsecurity = "{security}"\n'
        f'[outbound.smtp]\nsecurity = "{smtp_security}"\n' + SECRET_LINE,
    )
    settings = load_settings(path, environ={})
    assert settings.mailbox.imap.port == imap_port
    assert settings.outbound.smtp.port == smtp_port


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-18:00", (dt.time(9), dt.time(18))),
        ("8:30 - 17:30", (dt.time(8, 30), dt.time(17, 30))),
        ("00:00-23:59", (dt.time(0), dt.time(23, 59))),
    ],
)
def test_working_hours_parse(text: str, expected: tuple[dt.time, dt.time]) -> None:
    assert parse_working_hours(text) == expected


@pytest.mark.parametrize("text", ["", "9-18", "09:00", "25:00-26:00", "09:60-18:00", "18:00-18:00"])
def test_bad_working_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_working_hours(text)


# ------------------------------------------------------------------ starter files


def test_starter_files_are_written_and_load(tmp_path: Path, credentials: Path) -> None:
    target = tmp_path / "new" / "config"
    written = write_starter_files(target)

    assert written == [target / "liaison.toml", target / "directory.toml", target / "profile.toml"]
    assert written[0].read_text(encoding="utf-8") == read_example("liaison.toml")
    settings = load_settings(written[0], environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert settings.directory.file == written[1]
    assert check_servers(settings)[-1] == CheckResult(
        "directory", True, f"{written[1]}: 4 department(s), 13 person(s)"
    )


def test_starter_files_refuse_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "directory.toml").write_text("# mine\n", encoding="utf-8")

    with pytest.raises(StarterFilesExistError) as excinfo:
        write_starter_files(tmp_path)

    assert excinfo.value.paths == [tmp_path / "directory.toml"]
    assert "refusing to overwrite" in str(excinfo.value)
    assert "--force" in str(excinfo.value)
    assert (tmp_path / "directory.toml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "liaison.toml").exists()  # nothing written at all

    write_starter_files(tmp_path, force=True)
    assert (tmp_path / "directory.toml").read_text(encoding="utf-8") == read_example(
        "directory.toml"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "directory.toml",
        "liaison.toml",
        "profile.toml",
    ]


def test_example_directory_has_the_contract_shape() -> None:
    directory = tomllib.loads(read_example("directory.toml"))
    assert set(directory) == {"roles", "department", "person"}
    assert set(directory["roles"]) == {"office_head", "approvers"}
    departments = directory["department"]
    assert [d["name"] for d in departments] == ["研发部", "市场部", "财务部", "行政部"]
    for department in departments:
        assert set(department) == {"name", "code", "aliases", "head", "superior", "members"}
    people = {p["email"]: p for p in directory["person"]}
    assert len(people) == len(directory["person"])
    for person in people.values():
        assert set(person) <= {"email", "name", "language", "delegates"}
        assert person["language"] in ("zh", "en")
    assert {p["language"] for p in people.values()} == {"zh", "en"}
    assert [e for e, p in people.items() if p.get("delegates")] == ["zhao.lei@example.com"]
    named = {directory["roles"]["office_head"], *directory["roles"]["approvers"]}
    for department in departments:
        named |= {department["head"], department["superior"], *department["members"]}
    for person in people.values():
        named |= set(person.get("delegates", []))
    assert named - set(people) == set()  # everyone named has a [[person]] entry
    assert all(address.endswith("@example.com") for address in named | set(people))


def test_an_unknown_example_is_refused() -> None:
    with pytest.raises(ValueError):
        read_example("../pyproject.toml")


# ------------------------------------------------------------------------- checks


def test_check_reports_a_closed_imap_port(tmp_path: Path) -> None:
    port = free_port()
    path = write_config(
        tmp_path,
        f"""
[mailbox]
backend = "imap"
[mailbox.imap]
host = "127.0.0.1"
port = {port}
security = "none"
username = "coord"
password = "imap-password"
"""
        + SECRET_LINE,
    )
    results = {r.name: r for r in check_servers(load_settings(path, environ={}), timeout=2)}
    imap = results["mailbox.imap"]
    assert imap.ok is False
    assert imap.detail == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_check_accepts_a_working_sqlite_store(tmp_path: Path) -> None:
    database = tmp_path / "liaison.db"
    sqlite3.connect(database).close()
    path = write_config(tmp_path, f'[store]\nurl = "sqlite:///{database}"\n' + SECRET_LINE)
    results = {r.name: r for r in check_servers(load_settings(path, environ={}))}
    assert results["store"].ok is True
    assert results["store"].detail == f"sqlite:///{database} answered SELECT 1"


def test_check_reports_a_store_that_cannot_be_opened(tmp_path: Path) -> None:
    database = tmp_path / "liaison.db"
    database.write_bytes(b"this is not a database" * 10)
    path = write_config(tmp_path, f'[store]\nurl = "sqlite:///{database}"\n' + SECRET_LINE)
    results = {r.name: r for r in check_servers(load_settings(path, environ={}))}
    assert results["store"].ok is False
    assert "not a database" in results["store"].detail


def test_check_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, SECRET_LINE)
    results = {r.name: r for r in check_servers(load_settings(path, environ={}))}
    assert results["store"].ok is True
    assert "does not exist yet" in results["store"].detail
    assert not (tmp_path / "var").exists()


def test_check_listener_free_and_taken(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        path = write_config(tmp_path, f"[mailbox.listener]\nport = {port}\n" + SECRET_LINE)
        settings = load_settings(path, environ={})
        taken = {r.name: r for r in check_servers(settings, timeout=0.5)}["mailbox.listener"]
    assert taken.ok is False
    assert f"127.0.0.1:{port} is already in use by another program" in taken.detail

    free = {r.name: r for r in check_servers(settings)}["mailbox.listener"]
    assert free.ok is True
    assert free.detail == f"127.0.0.1:{port} is free to listen on (lmtp)"


def test_check_smtp_against_a_real_server(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        path = write_config(
            tmp_path,
            f"""
[outbound]
transport = "smtp"
[outbound.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
"""
            + SECRET_LINE,
        )
        results = {r.name: r for r in check_servers(load_settings(path, environ={}))}
    finally:
        controller.stop()
    assert results["outbound.smtp"] == CheckResult(
        "outbound.smtp", True, f"127.0.0.1:{port} answered EHLO"
    )


def test_check_skips_what_it_cannot_check_yet(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[calendar]
backend = "caldav"
[calendar.caldav]
url = "https://cal.example.com/dav/"
"""
        + SECRET_LINE,
    )
    results = {r.name: r for r in check_servers(load_settings(path, environ={}))}
    assert results["calendar.caldav"].skipped is True
    assert results["calendar.caldav"].ok is True
    assert results["directory"].skipped is True
    assert "no directory file" in results["directory"].detail


def test_schema_defaults_match_the_embedded_settings() -> None:
    # The schema table is the single list of keys; spot-check it against the contract.
    assert SCHEMA["mailbox.listener"]["port"].default == 2525
    assert SCHEMA["calendar"]["timezone"].default == "Asia/Shanghai"
    assert SCHEMA["workflow"]["coordinators"].default == ("office@example.com",)


def test_starter_profile_is_an_editable_copy_of_standard(tmp_path: Path) -> None:
    from workflow.profiles import load_profile

    written = write_starter_files(tmp_path)
    profile_path = tmp_path / "profile.toml"
    assert profile_path in written
    copy = load_profile(str(profile_path))
    assert copy.numbering == load_profile("standard").numbering
    edited = profile_path.read_text(encoding="utf-8").replace(copy.numbering, "HX-{year}-{seq:05d}")
    profile_path.write_text(edited, encoding="utf-8")
    assert load_profile(str(profile_path)).numbering == "HX-{year}-{seq:05d}"
