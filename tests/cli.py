"""Run the ``mailmatch`` command as a user does: a separate process with its own data home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_mailmatch(
    home: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Only ``MAILMATCH_HOME`` (and ``env``) reach the process: no developer setting leaks in."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    clean["MAILMATCH_HOME"] = str(home)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mailmatch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean,
        timeout=600,
    )
