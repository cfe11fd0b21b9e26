"""How a folder's UIDs are cut into fetch batches: by count, by bytes, ramped up and down.

A batch is the unit of everything in an import: one ``UID FETCH``, one parse job, one
transaction with its checkpoint. Its size trades memory (batches in flight are held whole)
against overhead per command and per commit.
"""

from __future__ import annotations

#: Most bytes of mail (by RFC822.SIZE) in one fetch batch when at most ``IN_MEMORY`` batches
#: are held at once (fetched, parsing, storing): a folder of large attachments must not make a
#: 500-message batch hold gigabytes. With more batches ahead (see ``shared_byte_cap``) each
#: gets a smaller share of the same total.
BATCH_BYTES = 32 * 1024 * 1024
IN_MEMORY = 3
#: Batches fetched ahead of the one being stored, beyond one per parse worker.
LOOKAHEAD = 4
#: The first batch holds ``batch_size // RAMP`` messages and each next one twice as many, up to
#: ``batch_size``: the store (the slowest stage) starts once the first batch is fetched and
#: parsed, so a small first batch starts it sooner (~0.3 s on the 6,046-message corpus).
RAMP = 8


def shared_byte_cap(batch_bytes: int, ahead: int) -> int:
    """The byte cap of one batch when ``ahead`` batches are fetched ahead of the one stored.

    The batches in memory at once share ``IN_MEMORY * batch_bytes``: more parse workers
    (more batches ahead) make batches smaller, not the import's memory larger.
    """
    return batch_bytes * IN_MEMORY // max(IN_MEMORY, ahead + 1)


def small_limit(batch_size: int, batch_bytes: int) -> int:
    """Messages up to this size need no exact size: a full batch of them fits ``batch_bytes``."""
    return max(1, batch_bytes // max(1, batch_size))


def plan_batches(
    uids: list[int], batch_size: int, batch_bytes: int, sizes: dict[int, int]
) -> list[list[int]]:
    """Split ``uids`` (in order) into fetch batches of at most ``batch_size`` messages and
    ``batch_bytes`` bytes; a message larger than ``batch_bytes`` is a batch of its own.

    ``sizes`` holds the sizes known to exceed :func:`small_limit`; every other message counts
    as that limit (an upper bound). The first batches ramp up (see ``RAMP``), the last ones
    down.
    """
    unknown = small_limit(batch_size, batch_bytes)
    limit = max(1, batch_size // RAMP)
    batches: list[list[int]] = []
    current: list[int] = []
    used = 0
    for uid in uids:
        size = sizes.get(uid, unknown)
        if current and (len(current) >= limit or used + size > batch_bytes):
            batches.append(current)
            current, used = [], 0
            limit = min(batch_size, limit * 2)
        current.append(uid)
        used += size
    if current:
        batches.append(current)
    # Ramp down too: the last batch is parsed, stored and matched after everything else is
    # done, so it is halved until it is about as small as the first.
    if len(batches) > 1:
        last = batches.pop()
        while len(last) > 2 * max(1, batch_size // RAMP):
            half = len(last) // 2
            batches.append(last[:half])
            last = last[half:]
        batches.append(last)
    return batches
