from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"

# Each real-server fixture lives in its own module under tests/servers/.
pytest_plugins = [
    p.stem and f"tests.servers.{p.stem}"
    for p in sorted((Path(__file__).parent / "servers").glob("*.py"))
    if p.stem not in ("__init__", "requirements")
]


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS} (shared/ must sit beside the checkout)")
    return CORPUS
