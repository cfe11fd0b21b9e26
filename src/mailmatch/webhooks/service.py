"""Webhooks on ``message.matched`` and ``message.unmatched``.

Each event is queued as a delivery row in the same database, then POSTed as JSON with an
HMAC-SHA256 signature over ``timestamp.body`` (header ``X-Mailmatch-Signature: sha256=<hex>``,
``X-Mailmatch-Timestamp``), so a receiver can check both origin and freshness. A delivery that
fails (an error status or no answer) is retried with exponential backoff and every attempt is
kept in the delivery log.

Webhooks belong to a workspace: a workspace's events go to its own webhooks only. Delivering is
the one cross-workspace job (the scheduler sends every workspace's due deliveries).
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

from sqlalchemy import select

from mailmatch.errors import InvalidInput, NotFound
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Message
from mailmatch.store.records import Webhook, WebhookDelivery
from mailmatch.timeutil import aware, now

if TYPE_CHECKING:
    import httpx

    from mailmatch.accounts.vault import Vault
    from mailmatch.matching.matcher import Outcome

EVENTS = ("message.matched", "message.unmatched")
MAX_ATTEMPTS = 8


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


class WebhookService:
    """The webhooks of one workspace (the vault's keys are shared by all)."""

    def __init__(
        self, db: Database, vault: Vault, *, workspace_id: int = DEFAULT_WORKSPACE_ID
    ) -> None:
        self.db = db
        self.vault = vault
        self.workspace_id = workspace_id

    def add(self, url: str, secret: str, events: list[str] | None = None) -> dict[str, Any]:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"not an http(s) URL: {url!r}")
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

    def log(self, webhook_id: int, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.session() as session:
            hook = session.get(Webhook, webhook_id)
            if hook is None or hook.workspace_id != self.workspace_id:
                raise NotFound(f"no webhook {webhook_id}")
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
                    "last_status_code": d.last_status_code,
                    "last_error": d.last_error,
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
        with self.db.session() as session:
            due = [
                _Due(d.id, d.event, d.payload, d.attempts, hook.url, hook.secret)
                for d, hook in session.execute(query).all()
            ]
        import httpx  # here, not at the top: every import matches mail and queues through this
        # module, and httpx costs ~20 ms of start-up that only delivering needs

        own_client = client is None
        http = client or httpx.Client(timeout=10, follow_redirects=False)
        try:
            for item in due:
                status_code, error = self._post(http, item)
                self._record(item, status_code, error, backoff, report)
        finally:
            if own_client:
                http.close()
        return report

    def _post(self, http: httpx.Client, item: _Due) -> tuple[int | None, str | None]:
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
            response = http.post(item.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        ok = 200 <= response.status_code < 300
        return response.status_code, None if ok else f"HTTP {response.status_code}"

    def _record(
        self,
        item: _Due,
        status_code: int | None,
        error: str | None,
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
