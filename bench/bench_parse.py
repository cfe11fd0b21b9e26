"""Parse the SpamAssassin corpus: mailmatch's parser next to the stdlib's, side by side.

Run by hand (never timed in CI): ``python bench/bench_parse.py [--repeat 5] [CORPUS_DIR]``.

Prints messages, total seconds, ms/message and what came out, for:

- ``parse_message`` (compat32 + mailmatch's own header, charset and MIME handling);
- bare ``message_from_bytes`` with ``compat32``: the floor, parsing and nothing else;
- ``policy.default`` + ``get_body()`` (+ the same headers read), the stdlib's modern API, to
  show why ingest does not use it: ~7x slower, and it raises on real mail.

Times are wall-clock, best of ``--repeat`` runs (this VM's timings vary by +-30% run to run).
The messages are read into memory first and the mbox ``From `` line is stripped, as the
mbox importer does, so only parsing is measured.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from mailmatch.ingest.parse import parse_message

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "spamassassin"


def load(corpus: Path) -> list[bytes]:
    messages = []
    for path in sorted(corpus.glob("*/*.txt")):
        raw = path.read_bytes()
        messages.append(raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw)
    return messages


def timed(
    run: Callable[[bytes], str], messages: list[bytes], repeat: int
) -> tuple[float, Counter[str]]:
    """Best wall time over ``repeat`` runs, and the outcome counts of the last run."""
    best = float("inf")
    outcomes: Counter[str] = Counter()
    for _ in range(repeat):
        outcomes = Counter()
        started = time.perf_counter()
        for raw in messages:
            outcomes[run(raw)] += 1
        best = min(best, time.perf_counter() - started)
    return best, outcomes


def mailmatch_parse(defects: Counter[str]) -> Callable[[bytes], str]:
    def run(raw: bytes) -> str:
        parsed = parse_message(raw)
        defects.update(parsed.defects)
        return parsed.parse_level

    return run


def compat32_only(raw: bytes) -> str:
    email.message_from_bytes(raw, policy=email.policy.compat32)
    return "parsed"


def policy_default(raw: bytes) -> str:
    """The stdlib's modern way: header objects, get_body(), get_content()."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        for name in ("subject", "from", "to", "cc", "date", "message-id", "references"):
            str(msg.get(name, ""))
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            body.get_content()
    except Exception as exc:
        return f"raised {type(exc).__name__}"
    return "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=1, help="runs per parser (best is shown)")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 1
    messages = load(args.corpus)
    size = sum(map(len, messages))
    print(f"corpus: {args.corpus} ({len(messages)} messages, {size / 1e6:.1f} MB)")
    print(f"{'parser':<38}{'messages':>9}{'total s':>9}{'ms/msg':>9}  outcome")
    defects: Counter[str] = Counter()
    runs: list[tuple[str, Callable[[bytes], str]]] = [
        ("mailmatch parse_message", mailmatch_parse(defects)),
        ("compat32 message_from_bytes only", compat32_only),
        ("policy.default + get_body()", policy_default),
    ]
    for label, run in runs:
        seconds, outcomes = timed(run, messages, args.repeat)
        outcome = ", ".join(f"{key}={count}" for key, count in outcomes.most_common())
        per_message = seconds / len(messages) * 1000
        print(f"{label:<38}{len(messages):>9}{seconds:>9.2f}{per_message:>9.3f}  {outcome}")
    runs_done = max(args.repeat, 1)
    print("parse_message defects (messages):")
    for name, count in defects.most_common():
        print(f"  {count // runs_done:>5}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
