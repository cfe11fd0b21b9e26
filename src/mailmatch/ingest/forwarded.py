"""Who a forwarded message came from originally.

Only forward markers count: "Original Message" blocks head quoted replies, and crediting the
quoted person would link a reply to someone who is not on it.

When a colleague forwards a customer's mail, the message's From is the colleague; the person
the mail concerns is the original sender, quoted in the body under a forward marker. Matching
credits that sender (stored as the address role ``fwd_from``) instead of the forwarder.
"""

from __future__ import annotations

import re

from mailmatch.ingest.models import Address

_MARKERS = (
    "---------- forwarded message",  # Gmail
    "begin forwarded message",  # Apple Mail
    "-------- forwarded message --------",  # Thunderbird
    "-------- weitergeleitete nachricht",  # German clients
    "-----ursprüngliche nachricht-----",
    "-------- message transféré --------",
)
_FROM = re.compile(r"^\s*(?:>\s*)*\*?(?:from|von|de)\*?\s*:\s*(.+)$", re.I | re.M)
_EMAIL = re.compile(r"<?([A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?")


def forwarded_senders(body_text: str, limit: int = 3) -> list[Address]:
    """The ``From:`` lines found after forward markers, in order (at most ``limit``)."""
    lowered = body_text.lower()
    found: list[Address] = []
    for marker in _MARKERS:
        start = lowered.find(marker)
        while start != -1 and len(found) < limit:
            window = body_text[start : start + 1500]
            line = _FROM.search(window)
            if line:
                email = _EMAIL.search(line.group(1))
                if email:
                    name = line.group(1)[: email.start()].strip().strip('"').strip()
                    address = Address(name, email.group(1).lower())
                    if address not in found:
                        found.append(address)
            start = lowered.find(marker, start + len(marker))
    return found
