"""Webhooks on ``message.matched`` and ``message.unmatched``.

Each event is queued as a delivery row in the same database, then POSTed as JSON with an
HMAC-SHA256 signature over ``timestamp.body`` (header ``X-Mailmatch-Signature: sha256=<hex>``,
``X-Mailmatch-Timestamp``), so a receiver can check both origin and freshness. A delivery that
fails (an error status or no answer) is retried with exponential backoff and every attempt is
kept in the delivery log.

Webhooks belong to a workspace: a workspace's events go to its own webhooks only. Delivering is
the one cross-workspace job (the scheduler sends every workspace's due deliveries).

Any signed-in user registers webhooks, so every URL goes through :mod:`mailmatch.net.guard`,
when it is added and again on every attempt: no delivery reaches the server's own network
unless an administrator allowed that host. A user who is not an administrator reads "delivery
failed" in the log, never the socket error or what an internal host answered.

Several schedulers may run on one home (``serve`` and ``worker``): each delivery is claimed
with a conditional UPDATE (a lease in ``claimed_until``) before it is sent, so exactly one of
them sends it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, update

from mailmatch.errors import InvalidInput, NotFound
from mailmatch.matching.matcher import Link, Outcome
from mailmatch.net.guard import AddressRefused, Guard
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Message
from mailmatch.store.records import MatchState, MessageLink, Webhook, WebhookDelivery
from mailmatch.timeutil import aware, now

if TYPE_CHECKING:
    import httpx

    from mailmatch.accounts.vault import Vault

EVENTS = ("message.matched", "message.unmatched")
MAX_ATTEMPTS = 8
# How long a claim keeps other schedulers off a delivery: far longer than one POST (10 s
# timeout), short enough that a scheduler killed mid-POST delays its delivery only a little.
CLAIM_LEASE = timedelta(minutes=5)
HIDDEN_ERROR = "delivery failed"  # what a non-administrator reads instead of the details


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True)
class _Due:
    delivery_id: int
    event: str
    payload: dict[str, Any]
    attempts: int
    url: str
    secret: str  # encrypted


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    retrying: int = 0


def enqueue_outcomes(
    db: Database, outcomes: Iterable[Outcome], workspace_id: int = DEFAULT_WORKSPACE_ID
) -> int:
    """Queue one delivery per subscribed webhook of the workspace and matched/unmatched
    message of the same workspace."""
    with db.session() as session:
        hooks = session.scalars(select(Webhook).where(Webhook.workspace_id == workspace_id)).all()
        if not hooks:
            return 0
        wanted = [o for o in outcomes if o.status in ("matched", "unmatched")]
        messages = {
            m.id: m
            for m in session.scalars(
                select(Message).where(
                    Message.workspace_id == workspace_id,
                    Message.id.in_([o.message_pk for o in wanted]),
                )
            )
        }
        count = 0
        for outcome in wanted:
            event = f"message.{outcome.status}"
            m = messages.get(outcome.message_pk)
            if m is None:
                continue
            date = aware(m.date)
            payload = {
                "event": event,
                "message": {
                    "id": m.id,
                    "message_id": m.message_id,
                    "subject": m.subject,
                    "date": date.isoformat() if date else None,
                    "from": m.from_email,
                },
                "links": [
                    {"type": link.record_type, "id": link.record_id, "reason": link.reason}
                    for link in outcome.links
                ],
                "unmatched_sender": outcome.unmatched_sender,
            }
            for hook in hooks:
                if event in hook.events:
                    session.add(
                        WebhookDelivery(
                            webhook_id=hook.id,
                            event=event,
                            payload=payload,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now(),
                        )
                    )
                    count += 1
        return count


def enqueue_stored(
    db: Database, message_pks: Iterable[int], workspace_id: int = DEFAULT_WORKSPACE_ID
) -> int:
    """Queue the deliveries for these messages from their stored match states and links.

    What the pipeline's webhooks step runs after matching: reading back what matching wrote
    (rather than being handed its outcomes) lets the step catch up on its own after it failed.
    One query when the workspace has no webhook.
    """
    pks = sorted(set(message_pks))
    with db.read() as conn:
        if (
            conn.execute(
                select(Webhook.id).where(Webhook.workspace_id == workspace_id).limit(1)
            ).first()
            is None
        ):
            return 0
        outcomes: dict[int, Outcome] = {}
        for start in range(0, len(pks), 500):
            chunk = pks[start : start + 500]
            for pk, status, detail, sender in conn.execute(
                select(
                    MatchState.message_pk,
                    MatchState.status,
                    MatchState.detail,
                    MatchState.unmatched_sender,
                ).where(MatchState.message_pk.in_(chunk))
            ):
                outcomes[pk] = Outcome(pk, [], status, detail, sender)
            for pk, record_type, record_id, reason in conn.execute(
                select(
                    MessageLink.message_pk,
                    MessageLink.record_type,
                    MessageLink.record_id,
                    MessageLink.reason,
                )
                .where(MessageLink.message_pk.in_(chunk))
                .order_by(MessageLink.id)
            ):
                if pk in outcomes:
                    outcomes[pk].links.append(Link(record_type, record_id, reason))
    return enqueue_outcomes(db, [outcomes[pk] for pk in pks if pk in outcomes], workspace_id)


class WebhookService:
    """The webhooks of one workspace (the vault's keys are shared by all)."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
        guard: Guard | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.workspace_id = workspace_id
        # Without one from the settings: no internal host is allowed, the system resolves.
        self.guard = guard or Guard()

    def add(self, url: str, secret: str, events: list[str] | None = None) -> dict[str, Any]:
        """Register a webhook; refuses (``invalid_input``, saying why) a URL that reaches or
        resolves into the internal network."""
        if not url.strip().lower().startswith(("http://", "https://")):
            raise InvalidInput(f"not an http(s) URL: {url!r}")
        url = self.guard.check(url)
        chosen = events or list(EVENTS)
        unknown = [e for e in chosen if e not in EVENTS]
        if unknown:
            raise InvalidInput(f"unknown events {unknown}", advice=[f"events: {', '.join(EVENTS)}"])
        if not secret:
            raise InvalidInput("a webhook needs a secret to sign its deliveries")
        token, key = self.vault.encrypt(secret)
        with self.db.session() as session:
            hook = Webhook(
                workspace_id=self.workspace_id, url=url, secret=token, key_id=key, events=chosen
            )
            session.add(hook)
            session.flush()
            return {"id": hook.id, "url": url, "events": chosen}

    def all(self) -> list[dict[str, Any]]:
        with self.db.session() as session:
            out = []
            for hook in session.scalars(
                select(Webhook)
                .where(Webhook.workspace_id == self.workspace_id)
                .order_by(Webhook.id)
            ):
                deliveries = session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
                ).all()
                out.append(
                    {
                        "id": hook.id,
                        "url": hook.url,
                        "events": hook.events,
                        "delivered": sum(d.status == "delivered" for d in deliveries),
                        "pending": sum(d.status == "pending" for d in deliveries),
                        "failed": sum(d.status == "failed" for d in deliveries),
                    }
                )
            return out

    def _hook(self, session: Any, webhook_id: int) -> Webhook:
        hook = session.get(Webhook, webhook_id)
        if hook is None or hook.workspace_id != self.workspace_id:
            raise NotFound(
                f"no webhook {webhook_id}", advice=["list them with: mailmatch webhooks list"]
            )
        return hook  # type: ignore[no-any-return]

    def remove(self, webhook_id: int) -> dict[str, Any]:
        """Delete a webhook with its delivery log; pending deliveries are never sent."""
        with self.db.session() as session:
            hook = self._hook(session, webhook_id)
            dropped = session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
            )
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
            gone = {"id": hook.id, "url": hook.url, "deliveries_removed": int(dropped or 0)}
            session.delete(hook)
            return gone

    def log(
        self, webhook_id: int, limit: int = 50, *, details: bool = False
    ) -> list[dict[str, Any]]:
        """The newest deliveries. Without ``details`` (a user who is not an administrator) a
        failure reads "delivery failed", and an allow-listed internal host's status is left
        out: the log must not tell users what answers inside the network."""
        with self.db.read_session() as session:
            self._hook(session, webhook_id)
            rows = session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
            return [
                {
                    "id": d.id,
                    "event": d.event,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_status_code": d.last_status_code
                    if details or not d.internal_target
                    else None,
                    "last_error": d.last_error if details or not d.last_error else HIDDEN_ERROR,
                }
                for d in rows
            ]

    def deliver_due(
        self,
        client: httpx.Client | None = None,
        *,
        backoff: timedelta = timedelta(seconds=30),
        limit: int = 200,
        all_workspaces: bool = False,
    ) -> DeliveryReport:
        """POST every delivery of the workspace that is due (of every workspace with
        ``all_workspaces``, as the scheduler does); schedule retries for the ones that fail.

        No database transaction is open during a POST: a slow or dead receiver must never hold
        the store's write lock (imports and every other command would wait behind it).
        """
        report = DeliveryReport()
        query = (
            select(WebhookDelivery, Webhook)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now())
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
        if not all_workspaces:
            query = query.where(Webhook.workspace_id == self.workspace_id)
        with self.db.read_session() as session:
            due = [
                _Due(d.id, d.event, d.payload, d.attempts, hook.url, hook.secret)
                for d, hook in session.execute(query).all()
            ]
        if not due:
            return report
        import httpx  # here, not at the top: every import matches mail and queues through this
        # module, and httpx costs ~20 ms of start-up that only delivering needs

        own_client = client is None
        http = client or httpx.Client(timeout=10, follow_redirects=False, trust_env=False)
        try:
            for item in due:
                claimed = self._claim(item.delivery_id)
                if claimed is None:
                    continue  # another scheduler sends it (or sent it already)
                status_code, error, internal = self._post(http, claimed)
                self._record(claimed, status_code, error, internal, backoff, report)
        finally:
            if own_client:
                http.close()
        return report

    def _claim(self, delivery_id: int) -> _Due | None:
        """Take one due delivery for this scheduler, or None when another one holds it.

        One conditional UPDATE: on SQLite the write lock serialises it, on PostgreSQL the row
        lock makes a second UPDATE re-check the condition after the first commits. Either way
        one scheduler's UPDATE matches the row and every other's matches nothing. The row is
        read again with the claim, so a delivery sent meanwhile is not sent twice.
        """
        t = now()
        with self.db.session() as session:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= t,
                    or_(
                        WebhookDelivery.claimed_until.is_(None),
                        WebhookDelivery.claimed_until < t,
                    ),
                )
                .values(claimed_until=t + CLAIM_LEASE)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id == delivery_id)
            ).one()
            d, hook = row
            return _Due(d.id, d.event, d.payload, d.attempts, hook.url, hook.secret)

    def _post(self, http: httpx.Client, item: _Due) -> tuple[int | None, str | None, bool | None]:
        """(status code, error, went to an allow-listed internal host) of one attempt."""
        import httpx

        body = json.dumps(item.payload, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "mailmatch-webhooks",
            "X-Mailmatch-Event": item.event,
            "X-Mailmatch-Delivery": str(item.delivery_id),
            "X-Mailmatch-Timestamp": timestamp,
            "X-Mailmatch-Signature": sign(self.vault.decrypt(item.secret), timestamp, body),
        }
        try:
            response, target = self.guard.request(
                http, "POST", item.url, content=body, headers=headers
            )
        except AddressRefused as exc:
            return None, exc.message, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}", None
        ok = 200 <= response.status_code < 300
        error = None if ok else f"HTTP {response.status_code}"
        return response.status_code, error, target.internal

    def _record(
        self,
        item: _Due,
        status_code: int | None,
        error: str | None,
        internal: bool | None,
        backoff: timedelta,
        report: DeliveryReport,
    ) -> None:
        with self.db.session() as session:
            delivery = session.get(WebhookDelivery, item.delivery_id)
            if delivery is None:
                return
            delivery.attempts = item.attempts + 1
            delivery.last_status_code = status_code
            delivery.last_error = error
            delivery.internal_target = internal
            delivery.claimed_until = None
            if error is None:
                delivery.status = "delivered"
                delivery.delivered_at = now()
                report.delivered += 1
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
                report.failed += 1
            else:
                delivery.next_attempt_at = now() + backoff * 2 ** (delivery.attempts - 1)
                report.retrying += 1
