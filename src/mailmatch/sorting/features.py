"""The features the classifier sees: words of the subject and body, who sent it, its shape.

Each feature is a readable string (``s:invoice``, ``from:billing@stripe.com``,
``h:list-id``), so the explanation of a prediction can name the ones that weighed most. They
are hashed into a fixed number of columns (no vocabulary to keep, grow or ship between
machines); collisions at 2**18 columns cost nothing measurable on mail.

A provider's spam-filter headers (``X-Spam-*``) are not features: they are the spam-verdict
signal's business, and their scores would let the model copy another filter instead of learning.
"""

from __future__ import annotations

import itertools
import re

from mailmatch.sorting.facts import MessageFacts

_WORD = re.compile(r"[^\W\d_]{2,24}|\d{1,6}|[$€£¥!]", re.UNICODE)
_URL_HOST = re.compile(r"https?://([a-z0-9.-]+)", re.I)
MAX_BODY_WORDS = 250
#: The body's words are the costliest part (the regex and the hashing); the first 2,500
#: characters carry what the model needs (bench/bench_sort.py).
BODY_FEATURE_CHARS = 2500
_NOT_FEATURES = ("x-spam", "x-rspamd", "x-ms-exchange-organization-scl")


def features(facts: MessageFacts) -> list[str]:
    """The feature strings of one message (repeats count: term frequency)."""
    out: list[str] = []
    subject = facts.subject.lower()
    out.extend("s:" + w for w in _WORD.findall(subject))
    if not subject.strip():
        out.append("s:<empty>")
    body = facts.body[:BODY_FEATURE_CHARS].lower()
    words = _WORD.findall(body)
    out.extend(words[:MAX_BODY_WORDS])
    out.extend(f"b:{a}_{b}" for a, b in itertools.pairwise(words[:41]))
    if not words:
        out.append("b:<empty>")
    out.extend("url:" + host for host in _URL_HOST.findall(facts.body)[:20])
    sender = facts.from_email.lower()
    if sender:
        local, _, domain = sender.partition("@")
        out.append("from:" + sender)
        out.append("fromdomain:" + domain)
        out.append("fromtld:" + domain.rpartition(".")[2])
        out.extend("fromlocal:" + w for w in _WORD.findall(local))
    else:
        out.append("from:<none>")
    out.extend("fromname:" + w for w in _WORD.findall(facts.from_name.lower()))
    out.append(f"to:{min(len(facts.recipients), 5)}")
    out.append("mid:" + (facts.message_id.rpartition("@")[2].lower()[:60] or "<none>"))
    for name, value in facts.headers.items():
        if name.startswith(_NOT_FEATURES):
            continue
        out.append("h:" + name)
        if name in ("x-mailer", "user-agent", "content-type", "precedence", "importance"):
            first = value.strip().split(";")[0].split(" ")[0].lower()[:40]
            out.append(f"h:{name}={first}")
    out.append("att:yes" if facts.attachment_count else "att:no")
    if facts.matched:
        out.extend("matched:" + kind for kind in sorted(facts.matched))
    return out
