"""Content-addressed storage for attachment bytes.

A blob is named by the SHA-256 of its bytes and kept at ``root/ab/cdef...`` (the first
two hex digits make the directory). Names chosen by senders never reach the file
system. Writes go to a temporary file in the same directory, are fsynced and then
renamed into place, so a blob is either complete or absent; writing the same bytes
twice is harmless.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from store.errors import BlobCorruptError, BlobNotFoundError, InvalidBlobIdError

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def blob_id(data: bytes) -> str:
    """The id ``data`` is stored under: its SHA-256 as lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def _checked(sha: str) -> str:
    if not isinstance(sha, str) or _SHA256_HEX.fullmatch(sha.lower()) is None:
        raise InvalidBlobIdError(f"not a SHA-256 hex digest: {sha!r}")
    return sha.lower()


class BlobStore:
    """Blobs under ``root``, which is created on first write."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        return self._root

    def path(self, sha: str) -> Path:
        """Where the blob ``sha`` lives (whether or not it exists)."""
        sha = _checked(sha)
        return self._root / sha[:2] / sha[2:]

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def put(self, data: bytes) -> str:
        """Store ``data``; its id. Durable when this returns."""
        sha = blob_id(data)
        target = self.path(sha)
        if target.is_file() and target.stat().st_size == len(data):
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)
        return sha

    def get(self, sha: str) -> bytes:
        """The bytes of blob ``sha``, checked against their hash."""
        target = self.path(sha)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {sha}") from None
        if blob_id(data) != sha.lower():
            raise BlobCorruptError(f"blob {sha} does not match its hash")
        return data


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
