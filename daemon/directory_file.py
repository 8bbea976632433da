"""The directory file: read it (TOML or CSV, by suffix), and keep it current while the
service runs.

:func:`load_directory` reads a file once; every failure (unreadable, not UTF-8, not
TOML, invalid content) is a :class:`~workflow.directory.DirectoryError` naming the file
and listing every problem. :class:`DirectoryFile` is the service's
:class:`~workflow.directory.DirectorySource`: each :meth:`DirectoryFile.current` costs one
``stat``; when the file's device, inode, size or modification time changed, it is read
again, once per change. An edit that does not load (a typo, a half-written file, the file
removed) is logged with its problems and the last good directory stays in use; the next
change is tried again.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from workflow.directory import Directory, DirectoryError

__all__ = ["SUFFIXES", "DirectoryFile", "load_directory"]

log = logging.getLogger("liaison.directory")

#: File suffixes understood, compared without regard to case.
SUFFIXES = (".toml", ".csv")


@dataclass(frozen=True)
class _Signature:
    """What identifies one version of the file without reading it."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Signature:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def load_directory(path: Path) -> Directory:
    """Read and validate the directory file at ``path``; raises :class:`DirectoryError`."""
    directory, _ = _read(path)
    return directory


def _read(path: Path) -> tuple[Directory, _Signature]:
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DirectoryError(
            source, [f"unsupported file type {path.suffix!r} (expected .toml or .csv)"]
        )
    try:
        with path.open("rb") as file:
            signature = _Signature.of(os.fstat(file.fileno()))
            data = file.read()
    except OSError as exc:
        raise DirectoryError(source, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DirectoryError(
            source, [f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"]
        ) from exc
    if suffix == ".toml":
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DirectoryError(source, [f"not valid TOML: {exc}"]) from exc
        return Directory.from_mapping(document, source=source), signature
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise DirectoryError(source, [f"not valid CSV: {exc}"]) from exc
    return Directory.from_csv_rows(rows, source=source), signature


class DirectoryFile:
    """The directory kept in a file, reloaded when the file changes.

    ``DirectoryFile(path)`` reads the file at once and raises :class:`DirectoryError` if
    it cannot be used, so a service does not start on a broken directory. Later edits
    never raise: a broken one is logged and the last good directory is kept.
    ``DirectoryFile.empty()`` stands for "no directory file configured".
    """

    def __init__(self, path: Path | None, *, logger: logging.Logger = log) -> None:
        self._path = path
        self._log = logger
        self._lock = threading.Lock()
        self._problems: tuple[str, ...] = ()
        self._seen: _Signature | None = None  # the version last tried, good or bad
        self._missing_logged = False
        if path is None:
            self._directory = Directory.empty()
            return
        self._directory, self._seen = _read(path)
        self._log_warnings(self._directory)

    @classmethod
    def empty(cls) -> DirectoryFile:
        """No file: an empty directory (nobody known, everyone written to in Chinese)."""
        return cls(None)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def problems(self) -> tuple[str, ...]:
        """Why the file's latest version is not in use; empty when it is."""
        return self._problems

    def current(self) -> Directory:
        """The directory as of the file's latest loadable version."""
        path = self._path
        if path is None:
            return self._directory
        reason = ""
        try:
            signature: _Signature | None = _Signature.of(os.stat(path))
        except OSError as exc:
            signature = None
            reason = exc.strerror or str(exc)
        if signature is not None and signature == self._seen:
            return self._directory
        with self._lock:
            if signature is None:
                if not self._missing_logged:
                    self._missing_logged = True
                    self._problems = (f"cannot read the file: {reason}",)
                    self._log.error(
                        "directory %s cannot be read (%s); keeping the last good directory",
                        path,
                        reason,
                    )
                self._seen = None
                return self._directory
            self._missing_logged = False
            if signature == self._seen:  # another thread reloaded meanwhile
                return self._directory
            try:
                directory, read = _read(path)
            except DirectoryError as exc:
                self._seen = signature
                self._problems = exc.problems
                self._log.error(
                    "directory %s changed but cannot be used; keeping the last good directory:\n%s",
                    path,
                    "\n".join(f"  - {p}" for p in exc.problems),
                )
                return self._directory
            self._seen = read
            self._problems = ()
            self._directory = directory
            self._log.info(
                "directory %s reloaded: %d people, %d departments",
                path,
                len(directory.people),
                len(directory.departments),
            )
            self._log_warnings(directory)
            return directory

    def _log_warnings(self, directory: Directory) -> None:
        for warning in directory.warnings:
            self._log.warning("directory %s: %s", self._path, warning)
