"""Two schedulers on one home (``serve`` and ``worker``) send each delivery exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from mailmatch.config import Settings
from mailmatch.store.db import open_database
from mailmatch.webhooks.service import DeliveryReport
from tests.servers.receiver import Receiver
from tests.webhooks.conftest import hooks_for, queue_matched_mail

DELIVERIES = 40


def test_two_schedulers_deliver_each_delivery_once(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(allow="127.0.0.1")
    with Receiver(delay=0.01) as receiver:  # a receiver that takes a moment to answer
        db = open_database(settings)
        hooks_for(settings, db).add(receiver.url, "s3cret", ["message.matched"])
        queue_matched_mail(db, DELIVERIES)
        reports: list[DeliveryReport] = []
        start = threading.Barrier(2)

        def scheduler() -> None:
            # Its own engine, as a second process has: nothing shared but the database file.
            own = hooks_for(settings, open_database(settings))
            start.wait()
            for _ in range(5):
                reports.append(own.deliver_due(backoff=timedelta(0), all_workspaces=True))

        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        ids = receiver.delivery_ids()

    per_id = Counter(ids)
    assert len(per_id) == DELIVERIES
    assert [n for n in per_id.values() if n != 1] == []
    assert sum(r.delivered for r in reports) == DELIVERIES
