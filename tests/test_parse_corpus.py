"""Every message of the shared corpus parses to what ``expected.json`` says.

Text is compared after collapsing white space runs, dates as instants, errors without
regard to order (as the corpus README prescribes).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mail_parsers.jsonout import to_json
from mail_parsers.message import parse_message

_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
_FILES = sorted(p.name for p in _CORPUS.glob("*.eml"))
_INSTANT_KEYS = frozenset({"date", "dtstart", "proposed_start", "proposed_end"})
_WS = re.compile(r"\s+")


def _norm(value: Any, key: str | None = None) -> Any:
    """Collapse white space in text, turn ISO instants into UTC datetimes, recursively."""
    if isinstance(value, str):
        if key in _INSTANT_KEYS and "T" in value:
            return datetime.fromisoformat(value).timestamp()
        return _WS.sub(" ", value).strip()
    if isinstance(value, dict):
        return {k: _norm(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _errors(items: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(_norm(e), ensure_ascii=False, sort_keys=True) for e in items)


@pytest.fixture(scope="module")
def expected(corpus_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus_dir / "expected.json").read_text("utf-8"))
    return data


def test_every_corpus_file_has_an_expectation(corpus_dir: Path, expected: dict[str, Any]) -> None:
    files = sorted(p.name for p in corpus_dir.glob("*.eml"))
    assert files, "no .eml files in the corpus"
    assert files == _FILES
    assert sorted(expected) == files


@pytest.mark.parametrize("name", _FILES)
def test_corpus_message(name: str, corpus_dir: Path, expected: dict[str, Any]) -> None:
    want = expected[name]
    got = to_json(parse_message((corpus_dir / name).read_bytes()))

    assert got["kind"] == want["kind"]
    assert _norm(got["headers"]) == _norm(want["headers"])
    # Line breaks in a decoded subject are a finding (header injection): keep them.
    assert ("\n" in got["headers"]["subject"]) == ("\n" in want["headers"]["subject"])
    assert _norm(got["fields"]) == _norm(want["fields"])
    assert _errors(got["errors"]) == _errors(want["errors"])
    assert _norm(got["reply"]) == _norm(want["reply"])
    assert _norm(got["calendar"]) == _norm(want["calendar"])
    assert got.get("attachments", []) == want.get("attachments", [])
    for key in ("bounce", "mdn", "list_id"):
        assert _norm(got.get(key)) == _norm(want.get(key)), key
    if "hostile" in want:
        assert got.get("hostile", {}).get("type") == want["hostile"]["type"]
    else:
        assert "hostile" not in got
