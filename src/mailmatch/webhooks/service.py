"""Webhooks on ``message.matched`` and ``message.unmatched``.

Each event is queued as a delivery row in the same database, then POSTed as JSON with an
HMAC-SHA256 signature over ``timestamp.body`` (header ``X-Mailmatch-Signature: sha256=<hex>``,
``X-Mailmatch-Timestamp``), so a receiver can check both origin and freshness. A delivery that
fails (an error status or no answer) is retried with exponential backoff and every attempt is
kept in the delivery log.
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

import httpx
from sqlalchemy import select

from mailmatch.errors import InvalidInput, NotFound
from mailmatch.store.db import Database
from mailmatch.store.models import Message
from mailmatch.store.records import Webhook, WebhookDelivery
from mailmatch.timeutil import aware, now

if TYPE_CHECKING:
    from mailmatch.accounts.vault import Vault
    from mailmatch.matching.matcher import Outcome

EVENTS = ("message.matched", "message.unmatched")
MAX_ATTEMPTS = 8


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    retrying: int = 0


def enqueue_outcomes(db: Database, outcomes: Iterable[Outcome]) -> int:
    """Queue one delivery per subscribed webhook and matched/unmatched message."""
    with db.session() as session:
        hooks = session.scalars(select(Webhook)).all()
        if not hooks:
            return 0
        wanted = [o for o in outcomes if o.status in ("matched", "unmatched")]
        messages = {
            m.id: m
            for m in session.scalars(
                select(Message).where(Message.id.in_([o.message_pk for o in wanted]))
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
    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

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
            hook = Webhook(url=url, secret=token, key_id=key, events=chosen)
            session.add(hook)
            session.flush()
            return {"id": hook.id, "url": url, "events": chosen}

    def all(self) -> list[dict[str, Any]]:
        with self.db.session() as session:
            out = []
            for hook in session.scalars(select(Webhook).order_by(Webhook.id)):
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
            if session.get(Webhook, webhook_id) is None:
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
    ) -> DeliveryReport:
        """POST every delivery that is due; schedule retries for the ones that fail."""
        report = DeliveryReport()
        own_client = client is None
        http = client or httpx.Client(timeout=10, follow_redirects=False)
        try:
            with self.db.session() as session:
                due = session.scalars(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now(),
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(limit)
                ).all()
                hooks = {h.id: h for h in session.scalars(select(Webhook))}
                for delivery in due:
                    hook = hooks[delivery.webhook_id]
                    self._attempt(http, hook, delivery, backoff, report)
        finally:
            if own_client:
                http.close()
        return report

    def _attempt(
        self,
        http: httpx.Client,
        hook: Webhook,
        delivery: WebhookDelivery,
        backoff: timedelta,
        report: DeliveryReport,
    ) -> None:
        body = json.dumps(delivery.payload, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "mailmatch-webhooks",
            "X-Mailmatch-Event": delivery.event,
            "X-Mailmatch-Delivery": str(delivery.id),
            "X-Mailmatch-Timestamp": timestamp,
            "X-Mailmatch-Signature": sign(self.vault.decrypt(hook.secret), timestamp, body),
        }
        delivery.attempts += 1
        try:
            response = http.post(hook.url, content=body, headers=headers)
            delivery.last_status_code = response.status_code
            ok = 200 <= response.status_code < 300
            delivery.last_error = None if ok else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok = False
            delivery.last_error = f"{type(exc).__name__}: {exc}"
        if ok:
            delivery.status = "delivered"
            delivery.delivered_at = now()
            report.delivered += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
            report.failed += 1
        else:
            delivery.next_attempt_at = now() + backoff * 2 ** (delivery.attempts - 1)
            report.retrying += 1
