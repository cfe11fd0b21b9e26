#!/usr/bin/env python3
"""Benchmark sorting (``mailmatch.sorting``) on the SpamAssassin corpus: spam vs not spam.

Run by hand, never by CI::

    python bench/bench_sort.py
    python bench/bench_sort.py --chunk 100 --no-import-compare

What it does, in one run (everything in a temp dir, removed at the end):

1. Writes the corpus (each file's mbox ``From `` line stripped) into a Maildir called
   ``corpus`` (a neutral name: a folder called spam or junk would be a signal) and imports it
   with ``import_file`` into a fresh ``MAILMATCH_HOME``, the pipeline's ``sort`` step left out
   (so that the import itself teaches and sorts nothing). Labels come from the corpus folder
   (spam-1, spam-2: spam; the ham folders: personal), matched to the store by sha256.
2. Prequential test through the public path: messages in ``Message.date`` order (no date: last,
   then by id), in chunks of ``--chunk``: ``SortService.sort_messages(chunk)`` (predicted before
   its label is taught), the stored category read back (``spam``, or in review with the guess
   ``spam``, counts as predicted spam), then ``SortService.correct_many`` with the true labels.
   The same stream, order and chunks for the peer: scikit-learn ``ComplementNB.partial_fit`` on
   the same features (``vectorize([features(facts)])``).
3. Deletes every ``message_categories`` row and times ``SortService.run()`` over all messages with
   the trained model (and once more, when nothing changes).
4. ``import_file`` of the corpus into fresh homes with the default pipeline and without its
   ``sort`` step (wall time of each).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from sklearn.naive_bayes import ComplementNB  # noqa: E402
from sqlalchemy import delete, select  # noqa: E402

from mailmatch.config import load_settings  # noqa: E402
from mailmatch.imports.files import import_file  # noqa: E402
from mailmatch.pipeline.registry import STEPS, Registry  # noqa: E402
from mailmatch.pipeline.runner import Pipeline  # noqa: E402
from mailmatch.sorting.classifier import vectorize  # noqa: E402
from mailmatch.sorting.facts import load_facts  # noqa: E402
from mailmatch.sorting.features import features  # noqa: E402
from mailmatch.sorting.service import SortService  # noqa: E402
from mailmatch.store.db import Database, open_database  # noqa: E402
from mailmatch.store.messages import MessageStore  # noqa: E402
from mailmatch.store.models import Message  # noqa: E402
from mailmatch.store.sorting import MessageCategory, SortCategory  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "spamassassin"
HAM = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM = ("spam-1", "spam-2")
WORKSPACE = 1
ACCURACY_TARGET = 0.98
RUN_TARGET = 1.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- corpus --------------------------------------------------------------------------------------


def load_corpus(directory: Path) -> list[tuple[bytes, bool]]:
    """(raw, is_spam) of every ``*.txt`` in the five folders, mbox ``From `` line removed."""
    out = []
    for folder in (*HAM, *SPAM):
        for path in sorted((directory / folder).glob("*.txt")):
            raw = path.read_bytes()
            if raw.startswith(b"From "):
                raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
            out.append((raw, folder in SPAM))
    return out


def write_maildir(root: Path, corpus: list[tuple[bytes, bool]]) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, (raw, _spam) in enumerate(corpus):
        (root / "cur" / f"{i:05d}.bench.localhost:2,S").write_bytes(raw)
    return root


def fresh_db(home: Path) -> Database:
    if home.exists():
        shutil.rmtree(home)
    return open_database(load_settings({"MAILMATCH_HOME": str(home)}))


def without_sort() -> Registry:
    registry = Registry()
    for name in STEPS.names():
        if name != "sort":
            registry.add(name, STEPS._steps[name])
    return registry


def timed_import(db: Database, maildir: Path, registry: Registry) -> tuple[float, int]:
    started = time.perf_counter()
    result = import_file(
        MessageStore(db), maildir, pipeline=Pipeline(db, WORKSPACE, registry=registry)
    )
    return time.perf_counter() - started, result.new


# -- scores --------------------------------------------------------------------------------------


@dataclass
class Score:
    n: int = 0
    right: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        self.n += 1
        self.right += predicted == actual
        self.tp += predicted and actual
        self.fp += predicted and not actual
        self.fn += actual and not predicted

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


def scores(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[Score, Score]:
    whole, last = Score(), Score()
    half = len(actual) // 2
    for i, (p, a) in enumerate(zip(predicted, actual, strict=True)):
        whole.add(p, a)
        if i >= half:
            last.add(p, a)
    return whole, last


def read_outcome(db: Database, pks: list[int]) -> dict[int, tuple[str, str | None, str]]:
    """message pk -> (state, category name or, in review, the guess's name, source)."""
    with db.read() as conn:
        names = dict(
            conn.execute(
                select(SortCategory.id, SortCategory.name).where(
                    SortCategory.workspace_id == WORKSPACE
                )
            ).all()
        )
        rows = conn.execute(
            select(
                MessageCategory.message_pk,
                MessageCategory.state,
                MessageCategory.category_id,
                MessageCategory.guess_id,
                MessageCategory.source,
            ).where(MessageCategory.message_pk.in_(pks))
        ).all()
    out: dict[int, tuple[str, str | None, str]] = {}
    for pk, state, category_id, guess_id, source in rows:
        chosen = guess_id if state == "review" else category_id
        out[pk] = (state, names.get(chosen) if chosen is not None else None, source or "-")
    return out


# -- the benchmark -------------------------------------------------------------------------------


def bench(corpus: list[tuple[bytes, bool]], chunk: int, work: Path, compare: bool) -> bool:
    maildir = write_maildir(work / "corpus", corpus)
    label_by_sha = {hashlib.sha256(raw).hexdigest(): spam for raw, spam in corpus}

    print("\n== Import (pipeline without the sort step) ==")
    db = fresh_db(work / "home")
    seconds, new = timed_import(db, maildir, without_sort())
    print(f"import_file: {new} new of {len(corpus)} in {seconds:.1f} s")
    with db.read() as conn:
        rows = conn.execute(
            select(Message.id, Message.sha256, Message.date).where(
                Message.workspace_id == WORKSPACE
            )
        ).all()
    rows = [r for r in rows if r.sha256 in label_by_sha]
    rows.sort(key=lambda r: (r.date is None, r.date or 0, r.id))
    undated = sum(1 for r in rows if r.date is None)
    pks = [int(r.id) for r in rows]
    actual = [label_by_sha[r.sha256] for r in rows]
    print(
        f"stream: {len(pks)} messages ({sum(actual)} spam, {len(actual) - sum(actual)} ham) "
        f"by Message.date, {undated} without a date last; chunks of {chunk}"
    )

    started = time.perf_counter()
    with db.read() as conn:
        docs_by_pk = {f.pk: features(f) for f in load_facts(conn, WORKSPACE, pks)}
    X = vectorize([docs_by_pk[pk] for pk in pks])
    print(f"features of all messages (for the peer): {time.perf_counter() - started:.1f} s")

    print("\n== Prequential: predict each chunk, then teach its labels ==")
    service = SortService(db, WORKSPACE)
    mm_pred: list[bool] = []
    states: dict[str, int] = {}
    wrong: Counter[str] = Counter()
    nb = ComplementNB()
    nb_started = False
    nb_pred: list[bool] = []
    sort_s = correct_s = nb_s = 0.0
    for start in range(0, len(pks), chunk):
        ids = pks[start : start + chunk]
        labels = actual[start : start + chunk]
        t = time.perf_counter()
        service.sort_messages(ids)
        sort_s += time.perf_counter() - t
        outcome = read_outcome(db, ids)
        for pk, label in zip(ids, labels, strict=True):
            state, name, source = outcome.get(pk, ("unsorted", None, "-"))
            states[state] = states.get(state, 0) + 1
            mm_pred.append(name == "spam")
            if (name == "spam") != label:
                truth = "spam" if label else "ham"
                wrong[f"{truth} -> {state}/{source}/{name}"] += 1
        t = time.perf_counter()
        service.correct_many(
            [(pk, "spam" if y else "personal") for pk, y in zip(ids, labels, strict=True)]
        )
        correct_s += time.perf_counter() - t

        t = time.perf_counter()
        rows_x = X[start : start + chunk]
        y = np.array(labels, dtype=int)
        if nb_started:
            nb_pred.extend(bool(v) for v in nb.predict(rows_x))
        else:
            nb_pred.extend([False] * len(ids))
        nb.partial_fit(rows_x, y, classes=np.array([0, 1]))
        nb_started = True
        nb_s += time.perf_counter() - t

    mm_all, mm_last = scores(mm_pred, actual)
    nb_all, nb_last = scores(nb_pred, actual)
    chunks = -(-len(pks) // chunk)
    print(
        f"mailmatch: sort_messages {sort_s:.1f} s, correct_many {correct_s:.1f} s "
        f"({chunks} chunks); ComplementNB predict+partial_fit {nb_s:.2f} s"
    )
    print(f"mailmatch states at prediction time: {dict(sorted(states.items()))}")
    review = states.get("review", 0) / len(pks)
    print(f"{'':<34} {'mailmatch SGD':>14} {'ComplementNB':>14}")
    for label, a, b in (
        ("accuracy, whole stream", mm_all.accuracy, nb_all.accuracy),
        ("spam F1, whole stream", mm_all.f1, nb_all.f1),
        ("accuracy, last half", mm_last.accuracy, nb_last.accuracy),
        ("spam F1, last half", mm_last.f1, nb_last.f1),
    ):
        print(f"{label:<34} {a:>14.4f} {b:>14.4f}")
    print(
        f"{'errors whole (fp/fn)':<34} {f'{mm_all.fp}/{mm_all.fn}':>14} "
        f"{f'{nb_all.fp}/{nb_all.fn}':>14}"
    )
    print(
        f"{'errors last half (fp/fn)':<34} {f'{mm_last.fp}/{mm_last.fn}':>14} "
        f"{f'{nb_last.fp}/{nb_last.fn}':>14}"
    )
    print("mailmatch errors, whole stream (truth -> state/source/category):")
    for what, n in wrong.most_common(8):
        print(f"  {n:>5}  {what}")
    print(f"share sent to review: {review:.2%} ({states.get('review', 0)} messages)")
    acc_ok = mm_last.accuracy >= ACCURACY_TARGET
    beats = mm_last.accuracy > nb_last.accuracy
    print(
        f"last-half accuracy {mm_last.accuracy:.4f} (target >= {ACCURACY_TARGET})  "
        f"{verdict(acc_ok)}"
    )
    print(
        f"SGD beats ComplementNB on last-half accuracy ({mm_last.accuracy:.4f} vs "
        f"{nb_last.accuracy:.4f})  {verdict(beats)}"
    )

    print("\n== Sorting every message from scratch with the trained model ==")
    with db.engine.begin() as conn:
        conn.execute(delete(MessageCategory).where(MessageCategory.workspace_id == WORKSPACE))
    started = time.perf_counter()
    report = service.run()
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    again = service.run()
    again_s = time.perf_counter() - started
    total = report.sorted + report.review + report.uncategorized
    print(
        f"SortService.run(): {run_s:.2f} s for {total} messages (sorted {report.sorted} "
        f"by {dict(report.by)}, review {report.review}, "
        f"uncategorized {report.uncategorized}, changed {report.changed})  "
        f"(target < {RUN_TARGET:.0f} s)  {verdict(run_s < RUN_TARGET)}"
    )
    print(f"SortService.run() again (nothing changes): {again_s:.2f} s, changed {again.changed}")
    final = read_outcome(db, pks)
    fit_all, _ = scores([final.get(pk, ("", None, ""))[1] == "spam" for pk in pks], actual)
    print(
        f"accuracy of that sort on the messages it was taught (in-sample): {fit_all.accuracy:.4f}"
    )
    db.engine.dispose()

    if compare:
        print("\n== Import with and without the sort step (fresh home each, untrained) ==")
        for label, registry in (("without sort", without_sort()), ("with sort (default)", STEPS)):
            db = fresh_db(work / "home-import")
            seconds, new = timed_import(db, maildir, registry)
            print(f"import_file {label:<20}: {seconds:6.1f} s ({new} new)")
            if registry is STEPS:
                # The import sorted everything uncategorized (no model yet): every message is
                # then a candidate for the re-sort after a correction.
                service = SortService(db, WORKSPACE)
                first = pks[:chunk]
                started = time.perf_counter()
                taught = [
                    (pk, "spam" if y else "personal") for pk, y in zip(first, actual, strict=False)
                ]
                result = service.correct_many(taught)
                print(
                    f"  then one correct_many of {len(first)}: "
                    f"{time.perf_counter() - started:.1f} s (re-sorted, changed "
                    f"{result.resort.changed})"
                )
            db.engine.dispose()
    return acc_ok and beats and run_s < RUN_TARGET


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument("--chunk", type=int, default=50, help="messages per chunk (default 50)")
    parser.add_argument(
        "--no-import-compare", action="store_true", help="skip the import with/without sort"
    )
    args = parser.parse_args(argv)
    if args.chunk < 1:
        parser.error("--chunk must be at least 1")
    missing = [f for f in (*HAM, *SPAM) if not (args.corpus / f).is_dir()]
    if missing:
        print(f"SKIP: corpus not found: {args.corpus} lacks {', '.join(missing)}")
        return 0
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    corpus = load_corpus(args.corpus)
    spam = sum(1 for _raw, s in corpus if s)
    print(f"corpus: {args.corpus} ({len(corpus)} messages, {spam} spam)")
    work = Path(tempfile.mkdtemp(prefix="mmbench-sort-"))
    try:
        ok = bench(corpus, args.chunk, work, not args.no_import_compare)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nall targets met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
