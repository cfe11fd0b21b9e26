"""Run the ``mailmatch`` command as a user does: a separate process with its own data home."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Literal


def environment(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Only ``MAILMATCH_HOME`` (and ``env``) reach the process: no developer setting leaks in."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    clean["MAILMATCH_HOME"] = str(home)
    clean.update(env or {})
    return clean


def run_mailmatch(
    home: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailmatch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment(home, env),
        timeout=600,
    )


def run_on_terminal(
    home: Path,
    *args: str,
    terminal: Literal["stdout", "stderr"] = "stderr",
    columns: int = 120,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run with ``terminal`` on a pseudo-terminal ``columns`` wide, the other stream captured.

    Returns the process (its captured stream in ``stdout``) and the terminal's screen once the
    command has ended: what a user sees after the last redraw, not the bytes drawn on the way.
    ``COLUMNS`` is unset unless ``env`` sets it, so the width is the terminal's own.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: slave}
    process = subprocess.Popen(
        [sys.executable, "-m", "mailmatch", *args],
        stdin=subprocess.DEVNULL,
        stdout=streams["stdout"],
        stderr=streams["stderr"],
        env=environment(home, {"COLUMNS": "", "TERM": "xterm-256color", **(env or {})}),
        text=True,
    )
    os.close(slave)
    drawn: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed its end
                return
            if not data:
                return
            drawn.append(data)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    out, err = process.communicate(timeout=600)
    reader.join(timeout=30)
    os.close(master)
    captured = out if terminal == "stderr" else err
    done = subprocess.CompletedProcess(process.args, process.returncode, captured, "")
    return done, screen(b"".join(drawn).decode("utf-8", "replace"))


_CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07]*\x07|[\r\n]|[^\x1b\r\n]+")


def screen(drawn: str) -> str:
    """What a terminal shows after ``drawn``: carriage returns, new lines, erased lines and
    cursor-up moves applied (the sequences rich's live display uses), colours dropped."""
    lines: list[str] = [""]
    row = col = 0
    for match in _CONTROL.finditer(drawn):
        text, (params, command) = match.group(0), match.group(1, 2)
        if text == "\r":
            col = 0
        elif text == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif command == "K":  # erase in line: 2 = the whole line, else from the cursor on
            lines[row] = "" if params == "2" else lines[row][:col]
        elif command == "A":
            row = max(0, row - int(params or 1))
        elif command is None and not text.startswith("\x1b"):
            current = lines[row].ljust(col)
            lines[row] = current[:col] + text + current[col + len(text) :]
            col += len(text)
    return "\n".join(line.rstrip() for line in lines).strip("\n")
