"""A message's match state in words, for the message page.

The matcher records why a message reached no record in ``match_states.detail``: for an
unmatched message ``"no record for a@x.test, b@y.test"`` (every address that was looked up and
found nothing), for an ignored one the rules that applied, joined by ``"; "``. Pasting that
after a sentence of our own gave "No contact, company or deal matches no record for ...".
This turns the state into a headline and the items it is about, so the page can say each state
in one sentence and link the right address to the unmatched queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NO_RECORD = "no record for "  # how the matcher starts an unmatched message's detail


@dataclass(frozen=True)
class MatchSummary:
    """``headline`` is a sentence; ``items`` the addresses or reasons it introduces."""

    status: str | None
    headline: str
    items: list[str] = field(default_factory=list)
    sender: str | None = None  # the address to handle in the unmatched queue


def summarize(status: str | None, detail: str | None) -> MatchSummary:
    """The words for ``status`` with the matcher's ``detail`` (or, in rows written before it
    kept one, the unmatched sender alone)."""
    text = (detail or "").strip()
    if status == "unmatched":
        addresses = _addresses(text)
        if not addresses:
            return MatchSummary(status, "No contact, company or deal matches this message.")
        if len(addresses) == 1:
            headline = "No contact, company or deal has the address of this message:"
        else:
            headline = "No contact, company or deal has any of the addresses of this message:"
        return MatchSummary(status, headline, addresses, sender=addresses[0])
    if status == "ignored":
        reasons = [r.strip() for r in text.split("; ") if r.strip()]
        return MatchSummary(
            status,
            "Ignored, so it is linked to no record:",
            reasons or ["an ignore rule applies"],
        )
    if status == "matched":
        return MatchSummary(status, "Matched, but the records it was linked to are gone.")
    return MatchSummary(status, "Not matched yet: matching runs right after each import batch.")


def _addresses(text: str) -> list[str]:
    if text.startswith(NO_RECORD):
        text = text[len(NO_RECORD) :]
    return list(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
