"""Matching speed: the 6,046 corpus messages against 10,000 contacts, and a one-contact re-match.

Targets (issue 4): full matching under 2 s; re-matching after adding one contact under 50 ms.

    python bench/bench_matching.py [--contacts 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "spamassassin"
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import text  # noqa: E402

from mailmatch.config import load_settings  # noqa: E402
from mailmatch.contacts.bulk import RecordImporter  # noqa: E402
from mailmatch.contacts.records import ContactRecord, ImportedRecords  # noqa: E402
from mailmatch.ingest.parse import parse_message  # noqa: E402
from mailmatch.matching.service import MatchService  # noqa: E402
from mailmatch.store.db import open_database  # noqa: E402
from mailmatch.store.messages import Incoming, MessageStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} not found: the benchmark needs ../shared/corpora/spamassassin")
    print(f"$ python bench/bench_matching.py --contacts {args.contacts} --repeat {args.repeat}")

    with tempfile.TemporaryDirectory() as home:
        db = open_database(load_settings({"MAILMATCH_HOME": home}))
        store = MessageStore(db)
        raws = []
        for path in sorted(CORPUS.glob("*/*.txt")):
            data = path.read_bytes()
            raws.append(data.split(b"\n", 1)[1] if data.startswith(b"From ") else data)
        for start in range(0, len(raws), 1000):
            store.add_batch([Incoming(r, parse_message(r)) for r in raws[start : start + 1000]])

        with db.engine.connect() as conn:
            real = [
                r[0]
                for r in conn.execute(
                    text("SELECT DISTINCT email FROM message_addresses ORDER BY email")
                )
            ]
        half = real[: len(real) // 2]  # the other half stays unmatched for the re-match test
        contacts = [ContactRecord(name=f"Person {i}", emails=[e]) for i, e in enumerate(half)]
        contacts += [
            ContactRecord(name=f"Synthetic {i}", emails=[f"synthetic{i}@example{i % 500}.test"])
            for i in range(max(0, args.contacts - len(contacts)))
        ]
        contacts = contacts[: args.contacts]
        records = RecordImporter(db)
        records.import_records(ImportedRecords(contacts, [], {}, [], [], source="bench"))
        matches = MatchService(db)

        full = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            count = matches.match_all()
            full.append(time.perf_counter() - started)

        unused = real[len(real) // 2 :]
        one = []
        touched = []
        for i in range(args.repeat):
            started = time.perf_counter()
            change = records.add_contact(unused[i * 7], f"New {i}")
            one.append(time.perf_counter() - started)
            touched.append(change.rematched)
        with db.engine.connect() as conn:
            busiest = conn.execute(
                text(
                    "SELECT a.email FROM message_addresses a LEFT JOIN contact_emails c "
                    "ON c.email = a.email WHERE c.email IS NULL GROUP BY a.email "
                    "ORDER BY count(*) DESC LIMIT 1"
                )
            ).scalar_one()
        started = time.perf_counter()
        big = records.add_contact(busiest, "Busiest")
        big_ms = (time.perf_counter() - started) * 1000
        stats = matches.stats()

    print(f"messages: {count}   contacts: {len(contacts)}")
    print(f"{'measure':<34}{'median':>10}{'min':>10}{'max':>10}   target")
    print(
        f"{'full match (s)':<34}{statistics.median(full):>10.3f}{min(full):>10.3f}"
        f"{max(full):>10.3f}   < 2 s"
    )
    print(
        f"{'add one contact + re-match (ms)':<34}{statistics.median(one) * 1000:>10.1f}"
        f"{min(one) * 1000:>10.1f}{max(one) * 1000:>10.1f}   < 50 ms"
    )
    print(f"messages re-matched per added contact: {touched}")
    print(f"busiest unmatched address ({big.rematched} messages): {big_ms:.1f} ms")
    print(f"matched/unmatched/ignored: {stats.matched}/{stats.unmatched}/{stats.ignored}")


if __name__ == "__main__":
    main()
