"""Where configuration values come from: the TOML file, ``LIAISON_*`` environment
variables, and secret files or systemd credentials.

Each source yields raw values keyed by dotted name, already checked against the key's
TOML type (see ``daemon/settings_schema.py``) and tagged with where they came from, so
every later problem can name the file or the variable. Problems are appended to the list
passed in; nothing here raises for a bad value.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from daemon.settings_errors import ConfigProblem
from daemon.settings_schema import (
    ENV_PREFIX,
    SCHEMA,
    SECRET_FILE_SUFFIX,
    Key,
    Kind,
    all_keys,
    env_names,
    secret_keys,
    subsections,
    top_sections,
)

Value = str | int | bool | tuple[str, ...] | tuple[dt.date, ...]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class Raw:
    """A value as given, with the place it was given (a file path or a variable name)."""

    value: Value
    source: str


# ---------------------------------------------------------------------------- the file


def read_file(path: Path, problems: list[ConfigProblem]) -> dict[str, Raw] | None:
    """Read and type-check one TOML file; unknown sections and keys are problems.

    ``None`` when the file cannot be read or is not TOML at all (the problem says why).
    """
    source = str(path)
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        problems.append(ConfigProblem("", "the configuration file does not exist", source))
        return None
    except OSError as exc:
        problems.append(ConfigProblem("", f"cannot read the file: {exc.strerror}", source))
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(ConfigProblem("", f"not valid TOML: {exc}", source))
        return None
    except UnicodeDecodeError:
        problems.append(ConfigProblem("", "not valid UTF-8", source))
        return None
    values: dict[str, Raw] = {}
    _walk(document, "", source, values, problems)
    return values


def _walk(
    table: Mapping[str, object],
    section: str,
    source: str,
    values: dict[str, Raw],
    problems: list[ConfigProblem],
) -> None:
    keys = SCHEMA.get(section, {})
    inner = subsections(section)
    for name, value in table.items():
        dotted = f"{section}.{name}" if section else name
        if name in inner:
            if isinstance(value, dict):
                _walk(value, dotted, source, values, problems)
            else:
                problems.append(
                    ConfigProblem(
                        dotted, f"expected a table [{dotted}], got {_describe(value)}", source
                    )
                )
        elif section and (name in keys or _is_secret_file(section, name)):
            key = keys.get(name) or Key(Kind.STR, "")
            checked = _check_type(value, key.kind)
            if isinstance(checked, _TypeMismatch):
                problems.append(ConfigProblem(dotted, checked.message, source))
            else:
                values[dotted] = Raw(checked, source)
        else:
            kind = "section" if isinstance(value, dict) else "key"
            problems.append(
                ConfigProblem(dotted, f"unknown {kind}{_suggest_in_file(section, name)}", source)
            )


def _is_secret_file(section: str, name: str) -> bool:
    if not name.endswith(SECRET_FILE_SUFFIX):
        return False
    base = SCHEMA.get(section, {}).get(name[: -len(SECRET_FILE_SUFFIX)])
    return base is not None and base.credential is not None


def _suggest_in_file(section: str, name: str) -> str:
    """A did-you-mean for an unknown name in ``section`` (``""``: the top level)."""
    here = [*SCHEMA.get(section, {}), *subsections(section)]
    here += [
        f"{k}{SECRET_FILE_SUFFIX}" for k, key in SCHEMA.get(section, {}).items() if key.credential
    ]
    close = difflib.get_close_matches(name, here, n=1, cutoff=0.6)
    if close:
        target = f"{section}.{close[0]}" if section else close[0]
        return f"; did you mean {target}?"
    if not section:
        return f"; the sections are {', '.join(top_sections())}"
    # The right key in the wrong section: [mailbox] host = ... meant [mailbox.imap].
    elsewhere = sorted(d for d in all_keys() if d.rsplit(".", 1)[-1] == name)
    if elsewhere:
        return f"; did you mean {' or '.join(elsewhere)}?"
    return f"; [{section}] accepts {', '.join(here)}" if here else ""


class _TypeMismatch:
    def __init__(self, message: str) -> None:
        self.message = message


def _check_type(value: object, kind: Kind) -> Value | _TypeMismatch:
    """The value if it has the TOML type of ``kind``, else why not."""
    if kind is Kind.STR and isinstance(value, str):
        return value
    if kind is Kind.INT and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is Kind.BOOL and isinstance(value, bool):
        return value
    if kind is Kind.LIST and isinstance(value, list):
        bad = [i for i, item in enumerate(value) if not isinstance(item, str)]
        if not bad:
            return tuple(str(item) for item in value)
        return _TypeMismatch(
            f"expected {kind.value}; item {bad[0] + 1} is {_describe(value[bad[0]])}"
        )
    if kind is Kind.DATES and isinstance(value, list):
        return _dates(value)
    return _TypeMismatch(f"expected {kind.value}, got {_describe(value)}")


def _dates(items: list[object]) -> tuple[dt.date, ...] | _TypeMismatch:
    """ISO dates, as TOML dates (2026-10-09) or strings ("2026-10-09")."""
    out: list[dt.date] = []
    for position, item in enumerate(items, start=1):
        if isinstance(item, dt.datetime):
            return _TypeMismatch(f"item {position} is a date with a time; give the date only")
        if isinstance(item, dt.date):
            out.append(item)
            continue
        if isinstance(item, str):
            try:
                out.append(dt.date.fromisoformat(item.strip()))
                continue
            except ValueError:
                return _TypeMismatch(
                    f'item {position} "{item}" is not an ISO date such as 2026-10-09'
                )
        return _TypeMismatch(f"item {position} is {_describe(item)}, expected a date")
    return tuple(out)


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dt.datetime | dt.time):
        return f"the time {value.isoformat()}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    return type(value).__name__


# ------------------------------------------------------------------------ environment


def read_environment(environ: Mapping[str, str], problems: list[ConfigProblem]) -> dict[str, Raw]:
    """``LIAISON_<SECTION>_<KEY>`` overrides, parsed by the key's type.

    A variable whose name starts with a known section but names no key is a problem (a
    typo would otherwise be ignored silently); other ``LIAISON_*`` variables, such as
    ``LIAISON_CONFIG``, are not configuration keys and are left alone.
    """
    names = env_names()
    keys = all_keys()
    sections = tuple(f"{ENV_PREFIX}{s.upper()}_" for s in top_sections())
    values: dict[str, Raw] = {}
    for variable in sorted(environ):
        if not variable.startswith(ENV_PREFIX):
            continue
        dotted = names.get(variable)
        if dotted is None:
            if variable.startswith(sections):
                close = difflib.get_close_matches(variable, list(names), n=1, cutoff=0.8)
                hint = f"; did you mean {close[0]}?" if close else ""
                problems.append(
                    ConfigProblem(variable, f"unknown configuration variable{hint}", "environment")
                )
            continue
        parsed = _parse_env(environ[variable], keys[dotted].kind)
        if isinstance(parsed, _TypeMismatch):
            problems.append(ConfigProblem(dotted, parsed.message, variable))
        else:
            values[dotted] = Raw(parsed, variable)
    return values


def _parse_env(text: str, kind: Kind) -> Value | _TypeMismatch:
    if kind is Kind.STR:
        return text
    if kind is Kind.INT:
        try:
            return int(text.strip())
        except ValueError:
            return _TypeMismatch(f'expected an integer, got "{text}"')
    if kind is Kind.BOOL:
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        return _TypeMismatch(f'expected true/false, yes/no or 1/0, got "{text}"')
    items = _parse_env_list(text)
    if isinstance(items, _TypeMismatch):
        return items
    if kind is Kind.DATES:
        return _dates(list(items))
    return tuple(items)


def _parse_env_list(text: str) -> list[str] | _TypeMismatch:
    """A JSON array of strings, or comma-separated items; empty text is an empty list."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError as exc:
            return _TypeMismatch(f"not a valid JSON array: {exc.msg}")
        if not isinstance(loaded, list) or not all(isinstance(i, str) for i in loaded):
            return _TypeMismatch("expected a JSON array of strings")
        return [str(item) for item in loaded]
    return [item.strip() for item in stripped.split(",") if item.strip()]


# ----------------------------------------------------------------------------- merging


def merge(file_values: dict[str, Raw], env_values: dict[str, Raw]) -> dict[str, Raw]:
    """The environment wins over the file, key by key.

    For a secret, the environment giving either ``X`` or ``X_file`` replaces the way the
    file gave it: ``LIAISON_MAILBOX_IMAP_PASSWORD`` overrides a ``password_file`` too.
    """
    merged = dict(file_values)
    for dotted in env_values:
        base = dotted.removesuffix(SECRET_FILE_SUFFIX)
        if base in secret_keys():
            merged.pop(base, None)
            merged.pop(base + SECRET_FILE_SUFFIX, None)
    merged.update(env_values)
    return merged


# ----------------------------------------------------------------------------- secrets


def resolve_secrets(
    values: dict[str, Raw],
    *,
    base_dir: Path,
    environ: Mapping[str, str],
    problems: list[ConfigProblem],
) -> set[str]:
    """Replace every secret's ``X_file`` by the file's content under ``X``.

    Order, first found wins: ``X_file`` (file or environment), ``X`` given inline, then
    ``$CREDENTIALS_DIRECTORY/<credential>`` (systemd ``LoadCredential=``). An explicit
    setting beats the ambient credential; inline values are accepted but never needed.

    Returns the secrets that were configured but could not be read (already reported),
    so that they are not reported a second time as missing.
    """
    credentials = environ.get("CREDENTIALS_DIRECTORY", "").strip()
    failed: set[str] = set()
    for dotted, credential in secret_keys().items():
        file_key = dotted + SECRET_FILE_SUFFIX
        given_file = values.pop(file_key, None)
        inline = values.get(dotted)
        if inline is not None and not str(inline.value):
            inline = None  # an empty inline value counts as not given
        if given_file is not None and inline is not None:
            problems.append(
                ConfigProblem(
                    dotted,
                    f"give either {dotted.rsplit('.', 1)[-1]} or "
                    f"{file_key.rsplit('.', 1)[-1]}, not both",
                    given_file.source,
                )
            )
            failed.add(dotted)
            continue
        if given_file is not None and str(given_file.value).strip():
            path = Path(str(given_file.value)).expanduser()
            if not path.is_absolute():
                path = base_dir / path
            secret = _read_secret(path, file_key, given_file.source, problems)
            if secret is not None:
                values[dotted] = Raw(secret, str(path))
            else:
                failed.add(dotted)
            continue
        if inline is not None:
            continue
        if credentials:
            path = Path(credentials) / credential
            if path.exists():
                secret = _read_secret(
                    path, dotted, f"$CREDENTIALS_DIRECTORY/{credential}", problems
                )
                if secret is not None:
                    values[dotted] = Raw(secret, str(path))
                else:
                    failed.add(dotted)
    return failed


def _read_secret(path: Path, where: str, source: str, problems: list[ConfigProblem]) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(ConfigProblem(where, f"the secret file {path} does not exist", source))
        return None
    except IsADirectoryError:
        problems.append(ConfigProblem(where, f"{path} is a directory, not a file", source))
        return None
    except OSError as exc:
        problems.append(ConfigProblem(where, f"cannot read {path}: {exc.strerror}", source))
        return None
    except UnicodeDecodeError:
        problems.append(ConfigProblem(where, f"{path} is not UTF-8 text", source))
        return None
    secret = text.rstrip("\r\n")
    if not secret:
        problems.append(ConfigProblem(where, f"the secret file {path} is empty", source))
        return None
    return secret
