"""REST API: ignore rules and webhooks (with their delivery log)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mailmatch.contacts.rules import RuleService
from mailmatch.net.guard import Guard
from mailmatch.web.security import ApiUser, Principal, State
from mailmatch.web.state import AppState
from mailmatch.webhooks.service import WebhookService

router = APIRouter()


ObjectId = Annotated[int, Path(ge=1, le=2**62)]
Event = Literal["message.matched", "message.unmatched"]


class Rule(BaseModel):
    id: int | None = Field(description="null for built-in rules, which cannot be removed")
    name: str
    description: str
    builtin: bool


class NewRule(BaseModel):
    kind: Literal["address", "domain", "pattern"]
    value: str = Field(
        min_length=1,
        max_length=500,
        description="An address, a domain (with its subdomains), or a pattern such as "
        "`noreply@*` or `re:` followed by a regular expression",
    )


class RuleChange(BaseModel):
    id: int
    kind: str
    value: str
    rematched: int = Field(description="Messages re-matched by this change")


class Webhook(BaseModel):
    id: int
    url: str
    events: list[str]
    delivered: int
    pending: int
    failed: int


class NewWebhook(BaseModel):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    secret: str = Field(min_length=1, max_length=500, description="Signs every delivery")
    events: list[Event] | None = Field(default=None, min_length=1, max_length=2)


class CreatedWebhook(BaseModel):
    id: int
    url: str
    events: list[str]


class RemovedWebhook(BaseModel):
    id: int
    url: str
    deliveries_removed: int = Field(description="Logged deliveries deleted with it")


class Delivery(BaseModel):
    id: int
    event: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    last_status_code: int | None = Field(
        description="Left out for an internal host unless the caller is an administrator"
    )
    last_error: str | None = Field(
        description='The error; "delivery failed" unless the caller is an administrator'
    )


def webhook_service(state: AppState, principal: Principal) -> WebhookService:
    """The caller's webhooks, every URL checked by the settings' address guard."""
    return WebhookService(
        state.db,
        state.vault,
        workspace_id=principal.workspace_id,
        guard=Guard.from_settings(state.settings),
    )


@router.get("/rules", response_model=list[Rule], tags=["rules"])
def list_rules(principal: ApiUser, state: State) -> list[Rule]:
    rules = RuleService(state.db, workspace_id=principal.workspace_id).rules()
    return [Rule.model_validate(r) for r in rules]


@router.post("/rules", response_model=RuleChange, status_code=201, tags=["rules"])
def add_rule(body: NewRule, principal: ApiUser, state: State) -> RuleChange:
    change = RuleService(state.db, workspace_id=principal.workspace_id).add_rule(
        body.kind, body.value
    )
    return RuleChange(**change.record, rematched=change.rematched)


@router.delete("/rules/{rule_id}", response_model=RuleChange, tags=["rules"])
def remove_rule(rule_id: ObjectId, principal: ApiUser, state: State) -> RuleChange:
    change = RuleService(state.db, workspace_id=principal.workspace_id).remove_rule(rule_id)
    return RuleChange(**change.record, rematched=change.rematched)


@router.get("/webhooks", response_model=list[Webhook], tags=["webhooks"])
def list_webhooks(principal: ApiUser, state: State) -> list[Webhook]:
    return [Webhook.model_validate(h) for h in webhook_service(state, principal).all()]


@router.post("/webhooks", response_model=CreatedWebhook, status_code=201, tags=["webhooks"])
def add_webhook(body: NewWebhook, principal: ApiUser, state: State) -> CreatedWebhook:
    """Refused (422, ``invalid_input``) for a URL that reaches the internal network."""
    service = webhook_service(state, principal)
    events = list(dict.fromkeys(body.events)) if body.events else None
    return CreatedWebhook.model_validate(service.add(body.url, body.secret, events))  # type: ignore[arg-type]


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[Delivery], tags=["webhooks"])
def deliveries(
    webhook_id: ObjectId,
    principal: ApiUser,
    state: State,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Delivery]:
    service = webhook_service(state, principal)
    log = service.log(webhook_id, limit, details=principal.user.is_admin)
    return [Delivery.model_validate(d) for d in log]


@router.delete("/webhooks/{webhook_id}", response_model=RemovedWebhook, tags=["webhooks"])
def remove_webhook(webhook_id: ObjectId, principal: ApiUser, state: State) -> RemovedWebhook:
    """Delete a webhook and its delivery log; its pending deliveries are not sent."""
    return RemovedWebhook.model_validate(webhook_service(state, principal).remove(webhook_id))
