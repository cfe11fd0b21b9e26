"""REST API: who am I, and my API tokens."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailmatch.web.security import ApiUser, State

router = APIRouter(tags=["users"])


class Me(BaseModel):
    id: int
    email: str
    workspace: str
    is_admin: bool


class TokenInfo(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: str | None
    last_used_at: str | None


class NewToken(BaseModel):
    name: str = Field(default="api", min_length=1, max_length=200)


class CreatedToken(BaseModel):
    token: str = Field(description="Shown once; only its hash is stored.")
    name: str


@router.get("/me", response_model=Me)
def me(principal: ApiUser) -> Me:
    u = principal.user
    return Me(id=u.id, email=u.email, workspace=u.workspace, is_admin=u.is_admin)


@router.get("/tokens", response_model=list[TokenInfo])
def tokens(principal: ApiUser, state: State) -> list[TokenInfo]:
    return [TokenInfo.model_validate(t) for t in state.users.tokens(principal.user.email)]


@router.post("/tokens", response_model=CreatedToken, status_code=201)
def create_token(body: NewToken, principal: ApiUser, state: State) -> CreatedToken:
    token = state.users.create_token(principal.user.email, body.name)
    return CreatedToken(token=token, name=body.name)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, principal: ApiUser, state: State) -> None:
    state.users.revoke_token(principal.user.email, token_id)
