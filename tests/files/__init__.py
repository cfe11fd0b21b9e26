"""Tests of ``mailmatch.files``; the helpers here find the real-mail corpus next to the repo."""

from __future__ import annotations

from pathlib import Path

import pytest

#: ``../shared/corpora/spamassassin`` relative to the repository root (it lives outside the repo).
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "spamassassin"


def corpus_files() -> list[Path]:
    """The 6,046 corpus files in a stable order; skips the calling test when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpora/spamassassin not found")
    return sorted(CORPUS.glob("*/*.txt"))
