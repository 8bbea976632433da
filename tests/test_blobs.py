"""The content-addressed blob store, on a real directory."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from store.blobs import BlobStore, blob_id
from store.errors import BlobCorruptError, BlobNotFoundError, InvalidBlobIdError

PDF = b"%PDF-1.7\n\x00\xff binary attachment \xe4\xb8\xad\n"


def test_put_returns_the_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "attachments")
    sha = blobs.put(PDF)
    assert sha == hashlib.sha256(PDF).hexdigest() == blob_id(PDF)
    assert blobs.get(sha) == PDF
    assert blobs.exists(sha)


def test_blob_lives_under_its_hash_split_after_two_digits(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(PDF)
    assert blobs.path(sha) == tmp_path / sha[:2] / sha[2:]
    assert blobs.path(sha).read_bytes() == PDF
    # Nothing else is left behind: no temporary files, no sender file names.
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        sha[:2],
        f"{sha[:2]}/{sha[2:]}",
    ]


def test_put_is_idempotent(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    first = blobs.put(PDF)
    modified = blobs.path(first).stat().st_mtime_ns
    assert blobs.put(PDF) == first
    assert blobs.path(first).stat().st_mtime_ns == modified
    assert blobs.get(first) == PDF


def test_empty_blob(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(b"")
    assert sha == hashlib.sha256(b"").hexdigest()
    assert blobs.get(sha) == b""


def test_upper_case_ids_name_the_same_blob(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(PDF)
    assert blobs.get(sha.upper()) == PDF
    assert blobs.path(sha.upper()) == blobs.path(sha)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "g" * 64,
        "a" * 63,
        "a" * 65,
        "../" + "a" * 61,
        "ab/" + "c" * 61,
        "a" * 62 + "\n1",
        " " + "a" * 63,
    ],
)
def test_ids_that_are_not_sha256_hex_are_refused(tmp_path: Path, bad: str) -> None:
    blobs = BlobStore(tmp_path)
    with pytest.raises(InvalidBlobIdError):
        blobs.path(bad)
    with pytest.raises(InvalidBlobIdError):
        blobs.get(bad)
    with pytest.raises(InvalidBlobIdError):
        blobs.exists(bad)


def test_missing_blob(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    with pytest.raises(BlobNotFoundError):
        blobs.get("0" * 64)
    assert not blobs.exists("0" * 64)


def test_corrupted_blob_is_detected_and_rewritten_by_put(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha = blobs.put(PDF)
    blobs.path(sha).write_bytes(b"truncated")
    with pytest.raises(BlobCorruptError):
        blobs.get(sha)
    assert blobs.put(PDF) == sha
    assert blobs.get(sha) == PDF
