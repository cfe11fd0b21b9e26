"""Find the processes a test started, even after they were re-parented to PID 1.

A process killed with SIGKILL cannot take its children along; they are re-parented and their
parent link is lost. Two marks survive: the session id (a command started with
``start_new_session=True`` leads a session that its forked children stay in), and the
environment the process was started with (``/proc/PID/environ``, inherited by every fork).
Linux only: read from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    session: int
    state: str
    cmdline: str

    def environ(self) -> dict[str, str]:
        """The environment the process started with ({} when it is gone or unreadable)."""
        try:
            data = (PROC / str(self.pid) / "environ").read_bytes()
        except OSError:
            return {}
        pairs = (entry.partition(b"=") for entry in data.split(b"\0") if entry)
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def _read(pid: int) -> Proc | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        cmdline = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, ppid, session = fields[0], int(fields[1]), int(fields[3])
    return Proc(pid, ppid, session, state, cmdline.replace(b"\0", b" ").decode(errors="replace"))


def processes(where: Callable[[Proc], bool] = lambda _p: True) -> list[Proc]:
    """Every live process (zombies excluded: they hold nothing) for which ``where`` is true."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            proc = _read(int(entry.name))
            if proc is not None and proc.state != "Z" and where(proc):
                found.append(proc)
    return found


def in_session(session: int) -> Callable[[Proc], bool]:
    return lambda p: p.session == session


def wait_gone(where: Callable[[Proc], bool], timeout: float = 5.0) -> list[Proc]:
    """Wait until no process matches; return those still there after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = processes(where)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def kill(procs: list[Proc]) -> None:
    """SIGKILL exactly these processes (that a test started), by pid."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
