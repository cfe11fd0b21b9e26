#!/usr/bin/env python3
"""Benchmark ``mailmatch imports run`` against ``mbsync`` on a real, local Dovecot.

Run by hand, as root (the Dovecot harness creates the ``vmail`` user and starts ``dovecot``),
never by CI::

    python bench/bench_import.py                 # 6,046-message corpus, 3 repetitions
    python bench/bench_import.py --repeat 5
    python bench/bench_import.py --big           # plus a 100,000-message folder (minutes)
    python bench/bench_import.py --big-only      # only the 100,000-message folder

What it does, in one run:

1. Starts its own Dovecot (``tests.servers.dovecot.Dovecot``, CA-signed ``localhost``
   certificate from ``tests.servers.certs``), creates a user and delivers the SpamAssassin corpus
   (each file's leading mbox ``From `` line stripped) into its INBOX with ``deliver()``; then
   warms Dovecot's index with one EXAMINE and a FETCH of every message, so the first timed run
   does not pay for indexing.
2. Per repetition, side by side on that same INBOX:

   a. ``mbsync`` pulling INBOX into a fresh local Maildir (mbsyncrc in a temp dir; the Maildir and
      its sync state are wiped before each repetition);
   b. ``mailmatch imports run bench --json`` into a fresh ``MAILMATCH_HOME`` (account and import
      created beforehand by an untimed in-process call; the import reads INBOX only);
   c. the same command again right away (nothing new).

   Each is a subprocess, timed wall-clock around the whole process (start-up included), with the
   child's own peak RSS (GNU time, see ``run_timed``). It prints median/min/max, the
   mailmatch/mbsync ratio and checks the counts (mailmatch's ``new``, mbsync's file count).
3. ``--big``: a 100,000-message folder (the corpus repeated, every copy with its own
   ``Message-ID: <bench-N-K@mailmatch>``), written straight into the user's Maildir ``cur/`` as
   ``vmail``; one full ``mailmatch imports run`` and one no-op run, wall time and peak RSS.
4. Stops Dovecot and removes every temp dir, also on errors and Ctrl-C.

``--profile FILE`` also writes a cProfile of one full import (fresh home, not timed) to FILE; read
it with ``python -c "import pstats; pstats.Stats('FILE').sort_stats('cumtime').print_stats(30)"``.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import platform
import re
import shlex
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.servers.certs import make_certs  # noqa: E402
from tests.servers.dovecot import Dovecot  # noqa: E402

from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride  # noqa: E402
from mailmatch.config import load_settings  # noqa: E402
from mailmatch.imports.service import ImportService  # noqa: E402
from mailmatch.providers.models import Security  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "spamassassin"
IMPORT_NAME = "bench"
ACCOUNT_NAME = "acct"
USER = "bench@example.com"
BIG_USER = "big@example.com"
PASSWORD = "bench-pass-word"
RATIO_TARGET = 0.5
NOOP_TARGET = 1.0
BIG_RSS_TARGET_MB = 300.0
WARM_CHUNK = 5000  # messages per FETCH while warming Dovecot's index


# -- corpus --------------------------------------------------------------------------------------


def load_corpus(directory: Path) -> list[bytes]:
    """Every ``*.txt`` below ``directory``, sorted by path, with the mbox ``From `` line removed."""
    messages = []
    for path in sorted(directory.rglob("*.txt")):
        raw = path.read_bytes()
        if raw.startswith(b"From "):
            raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        messages.append(raw)
    if not messages:
        raise SystemExit(f"no *.txt messages under {directory}")
    return messages


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """``raw`` with every Message-ID header (and its folded lines) replaced by ``message_id``."""
    match = _HEADER_END.search(raw)
    split = match.start() if match else len(raw)
    header, rest = raw[:split], raw[split:]
    newline = b"\r\n" if b"\r\n" in header else b"\n"
    kept: list[bytes] = []
    dropping = False
    for line in header.split(b"\n"):
        if line[:1] in (b" ", b"\t") and dropping:
            continue
        dropping = line[:11].lower() == b"message-id:"
        if not dropping:
            kept.append(line)
    head = f"Message-ID: {message_id}".encode() + newline
    return head + b"\n".join(kept) + rest


# -- Dovecot -------------------------------------------------------------------------------------


def write_maildir_fast(dovecot: Dovecot, address: str, messages: Iterator[bytes]) -> int:
    """Write messages straight into the user's INBOX ``cur/`` as ``vmail``; return the count.

    Same file naming and ownership as :meth:`Dovecot.deliver`, without its per-message
    tmp/rename and directory checks: nobody reads this Maildir until we log in.
    """
    first = next(messages, None)
    if first is None:
        return 0
    dovecot.deliver(address, first)  # creates the Maildir with the right owners
    cur = dovecot.folder_dir(address) / "cur"
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    stamp, pid = int(time.time()), os.getpid()
    count = 1
    for count, raw in enumerate(messages, start=2):
        name = f"{stamp}.M{count}P{pid}Qbench.{host},S={len(raw)}:2,"
        fd = os.open(cur / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, raw)
            os.fchown(fd, dovecot.uid, dovecot.gid)
        finally:
            os.close(fd)
    return count


def warm_index(dovecot: Dovecot, address: str, password: str) -> int:
    """EXAMINE INBOX and FETCH every message (bodies too); return EXISTS."""
    ctx = ssl.create_default_context(cafile=dovecot.ca_file)
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=ctx) as imap:
        imap.login(address, password)
        typ, selected = imap.select("INBOX", readonly=True)
        if typ != "OK":
            raise RuntimeError(f"EXAMINE INBOX failed: {selected!r}")
        exists = int(selected[0] or b"0")
        for start in range(1, exists + 1, WARM_CHUNK):
            end = min(exists, start + WARM_CHUNK - 1)
            typ, fetched = imap.fetch(f"{start}:{end}", "(UID RFC822.SIZE BODY.PEEK[])")
            if typ != "OK":
                raise RuntimeError(f"FETCH {start}:{end} failed: {fetched!r}")
        imap.close()
    return exists


# -- timing --------------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    max_rss_kb: int
    returncode: int
    stdout: str
    stderr: str


# A tiny parent for the measured process. Linux starts a child's peak RSS at the RSS of the
# address space it replaced at exec: a child forked from this (large) bench process would report
# at least this process's RSS (measured: `true` forked from a 200 MB Python reported 213 MB). So
# the measured command is started by a small program that reports its own child's peak: GNU time
# when installed, otherwise a bare Python (whose ~10 MB then sets the floor).
_RSS_WRAPPER = (
    "import os,sys\n"
    "pid=os.fork()\n"
    "if pid==0:\n"
    "    os.execvp(sys.argv[2],sys.argv[2:])\n"
    "_,status,usage=os.wait4(pid,0)\n"
    "open(sys.argv[1],'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)
GNU_TIME = Path("/usr/bin/time")


def rss_wrapped(cmd: Sequence[str], rss_file: Path) -> list[str]:
    """``cmd`` behind a parent that writes the child's peak RSS (KiB) to ``rss_file``."""
    if GNU_TIME.exists():
        return [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), "--", *cmd]
    return [sys.executable, "-S", "-E", "-c", _RSS_WRAPPER, str(rss_file), *cmd]


def run_timed(cmd: Sequence[str], env: dict[str, str], scratch: Path) -> Sample:
    """Run ``cmd``: wall time from before the fork until reaped (start-up included), peak RSS.

    Output goes to files, not pipes, so a chatty child can never block on a full pipe.
    """
    out_path, err_path, rss_path = scratch / "stdout", scratch / "stderr", scratch / "maxrss"
    rss_path.unlink(missing_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        returncode = subprocess.call(
            rss_wrapped(cmd, rss_path), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env
        )
        seconds = time.perf_counter() - started
    try:
        max_rss_kb = int(rss_path.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        max_rss_kb = 0
    return Sample(
        seconds=seconds,
        max_rss_kb=max_rss_kb,
        returncode=returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


@dataclass
class Row:
    """One line of the results table."""

    tool: str
    samples: list[Sample] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    inner_seconds: list[float] = field(default_factory=list)  # mailmatch's own "seconds"

    @property
    def times(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'tool':<34} {'median s':>9} {'min s':>8} {'max s':>8} {'messages':>9} "
        f"{'peak RSS MB':>12} {'in-proc s':>10}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        if not row.samples:
            continue
        msgs = "/".join(str(m) for m in sorted(set(row.messages))) or "?"
        rss = max(s.max_rss_kb for s in row.samples) / 1024
        inner = f"{statistics.median(row.inner_seconds):.2f}" if row.inner_seconds else "-"
        print(
            f"{row.tool:<34} {row.median:>9.2f} {min(row.times):>8.2f} {max(row.times):>8.2f} "
            f"{msgs:>9} {rss:>12.1f} {inner:>10}"
        )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- mbsync --------------------------------------------------------------------------------------


def mbsync_version() -> tuple[str, tuple[int, ...]]:
    text = subprocess.run(
        ["mbsync", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    version = tuple(int(g) for g in match.groups() if g is not None) if match else (0,)
    return text, version


def write_mbsyncrc(
    path: Path,
    dovecot: Dovecot,
    address: str,
    password: str,
    maildir: Path,
    version: tuple[int, ...],
    *,
    fsync: bool = True,
) -> None:
    """A pull-only channel for INBOX; option names follow the installed isync version.

    ``fsync=False`` adds the global ``FSync no`` (mbsync's default is to fsync every message
    file and its state, which makes it disk-bound and noisy on a shared VM).
    """
    tls = "TLSType" if version >= (1, 5) else "SSLType"  # renamed in isync 1.5
    far, near = ("Far", "Near") if version >= (1, 4) else ("Master", "Slave")
    path.write_text(
        f"""\
FSync {"yes" if fsync else "no"}

IMAPAccount bench
Host {dovecot.host}
Port {dovecot.imaps_port}
User {address}
Pass {password}
{tls} IMAPS
CertificateFile {dovecot.ca_file}

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel bench
{far} :bench-far:
{near} :bench-near:
Patterns INBOX
Sync Pull
Create {near}
Expunge None
SyncState *
"""
    )
    path.chmod(0o600)


def maildir_count(folder: Path) -> int:
    """Messages in a Maildir folder: files in ``cur/`` and ``new/``."""
    return sum(
        len(list((folder / sub).iterdir())) for sub in ("cur", "new") if (folder / sub).is_dir()
    )


# -- mailmatch -----------------------------------------------------------------------------------


def mailmatch_command() -> list[str]:
    """The console script next to this interpreter (not a pyenv shim, which adds a shell)."""
    beside = Path(sys.executable).parent / "mailmatch"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("mailmatch")
    return [found] if found else [sys.executable, "-m", "mailmatch"]


def mailmatch_env(home: Path) -> dict[str, str]:
    """This environment without any MAILMATCH_* setting, plus a fresh MAILMATCH_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    env["MAILMATCH_HOME"] = str(home)
    return env


def prepare_home(home: Path, dovecot: Dovecot, address: str, password: str) -> dict[str, str]:
    """Create a fresh home with account ``acct`` and import ``bench`` (INBOX); untimed."""
    if home.exists():
        shutil.rmtree(home)
    env = mailmatch_env(home)
    accounts = AccountService.open(load_settings(env))
    try:
        accounts.add(
            NewAccount(
                address=address,
                name=ACCOUNT_NAME,
                imap=ServerOverride(dovecot.host, dovecot.imaps_port, Security.SSL),
                smtp=ServerOverride(dovecot.host, 465, Security.SSL),
                ca_file=dovecot.ca_file,
            ),
            password,
            test=False,
        )
        ImportService(accounts.db).create(IMPORT_NAME, ACCOUNT_NAME, ["INBOX"], None)
    finally:
        accounts.db.engine.dispose()
    return env


def parse_run(sample: Sample, what: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(sample.stdout)
    except json.JSONDecodeError:
        raise SystemExit(
            f"{what}: exit {sample.returncode}, not JSON on stdout:\n{sample.stdout}\n"
            f"--- stderr ---\n{sample.stderr}"
        ) from None
    if sample.returncode != 0 or data.get("errors"):
        print(f"WARNING {what}: exit {sample.returncode}, errors {data.get('errors')!r}")
    return data


def run_mailmatch(
    row: Row, env: dict[str, str], scratch: Path, what: str, notes: list[dict[str, Any]]
) -> dict[str, Any]:
    sample = run_timed(
        [*mailmatch_command(), "imports", "run", IMPORT_NAME, "--json"], env, scratch
    )
    data = parse_run(sample, what)
    row.samples.append(sample)
    row.messages.append(int(data.get("new", -1)))
    row.inner_seconds.append(float(data.get("seconds", 0.0)))
    notes.append(data)
    return data


# -- the benchmarks ------------------------------------------------------------------------------


def bench_default(
    dovecot: Dovecot, corpus: list[bytes], repeat: int, work: Path, profile: Path | None
) -> bool:
    print(f"\n== Default: {len(corpus)} messages in one INBOX, {repeat} repetitions ==")
    dovecot.add_user(USER, PASSWORD)
    started = time.perf_counter()
    for raw in corpus:
        dovecot.deliver(USER, raw)
    delivered = time.perf_counter() - started
    started = time.perf_counter()
    exists = warm_index(dovecot, USER, PASSWORD)
    print(
        f"delivered {len(corpus)} files in {delivered:.1f} s; warmed Dovecot "
        f"(EXAMINE + FETCH all): EXISTS {exists} in {time.perf_counter() - started:.1f} s"
    )

    version_text, version = mbsync_version()
    local = work / "mbsync-maildir"
    mbsyncs: list[tuple[Row, list[str]]] = []
    for fsync in (True, False):
        rc = work / f"mbsyncrc-{'fsync' if fsync else 'nofsync'}"
        write_mbsyncrc(rc, dovecot, USER, PASSWORD, local, version, fsync=fsync)
        label = f"mbsync ({version_text}{'' if fsync else ', FSync no'})"
        mbsyncs.append((Row(label), ["mbsync", "-q", "-c", str(rc), "bench"]))
    mm_cmd = [*mailmatch_command(), "imports", "run", IMPORT_NAME, "--json"]
    for row, cmd in mbsyncs:
        print(f"{row.tool}: {shlex.join(cmd)}")
    print(f"mailmatch: MAILMATCH_HOME=<fresh dir> {shlex.join(mm_cmd)}")
    print("(mbsyncrc: pull-only INBOX channel; Maildir and sync state wiped before every run)")

    mbsync = mbsyncs[0][0]
    full = Row("mailmatch imports run (full)")
    again = Row("mailmatch imports run (again)")
    full_json: list[dict[str, Any]] = []
    again_json: list[dict[str, Any]] = []
    home = work / "home"
    for i in range(1, repeat + 1):
        line = []
        for row, cmd in mbsyncs:
            if local.exists():
                shutil.rmtree(local)
            local.mkdir()
            sample = run_timed(cmd, dict(os.environ), work)
            if sample.returncode != 0:
                raise SystemExit(
                    f"mbsync exited {sample.returncode}:\n{sample.stdout}{sample.stderr}"
                )
            row.samples.append(sample)
            row.messages.append(maildir_count(local / "INBOX"))
            line.append(f"{row.tool} {sample.seconds:.2f} s ({row.messages[-1]} files)")
        shutil.rmtree(local, ignore_errors=True)

        env = prepare_home(home, dovecot, USER, PASSWORD)
        first = run_mailmatch(full, env, work, f"full run {i}", full_json)
        second = run_mailmatch(again, env, work, f"again run {i}", again_json)
        line.append(f"mailmatch full {full.samples[-1].seconds:.2f} s (new {first.get('new')})")
        line.append(f"again {again.samples[-1].seconds:.2f} s (new {second.get('new')})")
        print(f"  rep {i}: " + ", ".join(line))

    if profile is not None:
        env = prepare_home(home, dovecot, USER, PASSWORD)
        # Through ``app()``, not the console script's ``main()``: that ends the process with
        # os._exit, before cProfile could write its file.
        script = work / "mailmatch_app.py"
        script.write_text("from mailmatch.cli import app\n\napp()\n")
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), str(script)]
        sample = run_timed([*cmd, "imports", "run", IMPORT_NAME, "--json"], env, work)
        print(
            f"cProfile of one full import written to {profile} "
            f"({sample.seconds:.1f} s under cProfile)"
        )
    shutil.rmtree(home, ignore_errors=True)

    print()
    print_table([*(row for row, _ in mbsyncs), full, again])
    ratio = full.median / mbsync.median
    print()
    print(
        f"ratio mailmatch/mbsync (medians, mbsync defaults): {ratio:.2f}  "
        f"(target <= {RATIO_TARGET})  {verdict(ratio <= RATIO_TARGET)}"
    )
    nofsync = mbsyncs[1][0]
    print(f"ratio mailmatch/mbsync with FSync no (medians): {full.median / nofsync.median:.2f}")
    print(
        f"second run (nothing new), median: {again.median:.2f} s  "
        f"(target < {NOOP_TARGET:.0f} s)  {verdict(again.median < NOOP_TARGET)}"
    )
    expected = len(corpus)
    mbsync_counts = sorted({n for row, _ in mbsyncs for n in row.messages})
    counts_ok = all(n == expected for n in full.messages) and mbsync_counts == [expected]
    last = full_json[-1]
    print(
        f"counts: expected {expected}; mailmatch new {sorted(set(full.messages))}, "
        f"skipped_duplicates {last.get('skipped_duplicates')}, defective {last.get('defective')}, "
        f"errors {len(last.get('errors') or [])}; mailmatch again new "
        f"{sorted(set(again.messages))}; mbsync Maildir files {mbsync_counts}  "
        f"{verdict(counts_ok)}"
    )
    return ratio <= RATIO_TARGET and again.median < NOOP_TARGET and counts_ok


def bench_big(dovecot: Dovecot, corpus: list[bytes], count: int, work: Path) -> bool:
    print(f"\n== Big: {count} messages in one INBOX (corpus repeated, new Message-IDs) ==")
    dovecot.add_user(BIG_USER, PASSWORD)

    def copies() -> Iterator[bytes]:
        for i in range(count):
            n, k = i % len(corpus), i // len(corpus)
            yield with_message_id(corpus[n], f"<bench-{n}-{k}@mailmatch>")

    started = time.perf_counter()
    written = write_maildir_fast(dovecot, BIG_USER, copies())
    size = sum(p.stat().st_size for p in (dovecot.folder_dir(BIG_USER) / "cur").iterdir())
    print(
        f"wrote {written} files ({size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    exists = warm_index(dovecot, BIG_USER, PASSWORD)
    print(
        f"warmed Dovecot (EXAMINE + FETCH all): EXISTS {exists} "
        f"in {time.perf_counter() - started:.1f} s"
    )

    full = Row("mailmatch imports run (full)")
    again = Row("mailmatch imports run (again)")
    notes: list[dict[str, Any]] = []
    home = work / "home-big"
    env = prepare_home(home, dovecot, BIG_USER, PASSWORD)
    data = run_mailmatch(full, env, work, "big full run", notes)
    again_data = run_mailmatch(again, env, work, "big again run", notes)
    db_size = sum(p.stat().st_size for p in home.iterdir() if p.is_file())
    shutil.rmtree(home, ignore_errors=True)

    print()
    print_table([full, again])
    peak_mb = full.samples[0].max_rss_kb / 1024
    rate = written / full.samples[0].seconds
    print()
    print(f"full import: {full.samples[0].seconds:.1f} s wall ({rate:.0f} messages/s)")
    print(
        f"peak RSS of the full run: {peak_mb:.1f} MB  "
        f"(target < {BIG_RSS_TARGET_MB:.0f} MB)  {verdict(peak_mb < BIG_RSS_TARGET_MB)}"
    )
    print(f"store size (files in MAILMATCH_HOME): {db_size / 2**20:.0f} MiB")
    counts_ok = data.get("new") == written and again_data.get("new") == 0
    print(
        f"counts: expected {written}; new {data.get('new')}, skipped_duplicates "
        f"{data.get('skipped_duplicates')}, defective {data.get('defective')}, errors "
        f"{len(data.get('errors') or [])}; again new {again_data.get('new')}  {verdict(counts_ok)}"
    )
    return peak_mb < BIG_RSS_TARGET_MB and counts_ok


# -- main ----------------------------------------------------------------------------------------


def describe_machine() -> None:
    def first_line(cmd: list[str]) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
        except OSError:
            return "?"
        return (
            (done.stdout or done.stderr).strip().splitlines()[0]
            if done.stdout or done.stderr
            else "?"
        )

    dirty = first_line(["git", "status", "--porcelain"])
    commit = first_line(["git", "rev-parse", "--short", "HEAD"])
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"dovecot {first_line(['dovecot', '--version'])}, "
        f"git {commit}{' (uncommitted changes in tree)' if dirty != '?' else ''}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per tool (default 3)")
    parser.add_argument("--big", action="store_true", help="also run the 100,000-message folder")
    parser.add_argument("--big-only", action="store_true", help="only the big folder")
    parser.add_argument("--big-count", type=int, default=100_000, help="messages in the big folder")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of *.txt")
    parser.add_argument("--profile", type=Path, help="also write a cProfile of one full import")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if os.geteuid() != 0:
        parser.error("run as root: the Dovecot harness creates the vmail user and starts dovecot")
    for tool in ("mbsync", "dovecot", "doveadm"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found (apt-get install isync dovecot-imapd)")

    shown = [sys.executable, os.path.relpath(Path(__file__).resolve(), REPO), *sys.argv[1:]]
    print(f"reproduce: cd {shlex.quote(str(REPO))} && {shlex.join(shown)}")
    describe_machine()

    corpus = load_corpus(args.corpus)
    print(
        f"corpus: {args.corpus} ({len(corpus)} messages, {sum(map(len, corpus)) / 2**20:.1f} MiB)"
    )

    work = Path(tempfile.mkdtemp(prefix="mmbench-"))
    cleanups: list[Callable[[], None]] = [lambda: shutil.rmtree(work, ignore_errors=True)]
    ok = True
    try:
        certs = make_certs(work / "certs")
        dovecot = Dovecot(certs)
        cleanups.insert(0, dovecot.close)
        dovecot.start()
        print(f"dovecot: {dovecot.host}:{dovecot.imaps_port} (IMAPS), dir {dovecot.root}")
        if not args.big_only:
            ok = bench_default(dovecot, corpus, args.repeat, work, args.profile) and ok
        if args.big or args.big_only:
            ok = bench_big(dovecot, corpus, args.big_count, work) and ok
    finally:
        for cleanup in cleanups:
            cleanup()
    print(f"\nall targets met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
