"""Signals: facts of a message that say its category with no training.

Like rules, each is a tiny class with ``name``, ``description`` and ``check(facts)`` returning
the reason. They name a *default* category (``newsletter``, ``notification``, ``spam``) and
are skipped in a workspace that removed or renamed it away. A provider's spam verdict and its
Junk folder are *strong*: the user's provider already decided. List and machine headers are
*weak*: spam wears them too, so a confident model saying spam overrides them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from mailmatch.sorting.facts import MessageFacts

#: Folder names providers give their junk folder (Yahoo's "Bulk", GMX's "Spamverdacht", ...).
JUNK_FOLDERS = frozenset(
    name.casefold()
    for name in (
        "Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk", "Bulk Mail",
        "[Gmail]/Spam", "[Google Mail]/Spam", "INBOX.Junk", "INBOX/Junk", "INBOX.Spam",
        "INBOX/Spam", "Spamverdacht", "Junk-E-Mail", "Unerwünscht", "Indésirables",
        "Courrier indésirable", "Correo no deseado", "Posta indesiderata", "Ongewenste e-mail",
        "Skräppost", "Спам", "垃圾邮件",
    )
)  # fmt: skip

_MACHINE_LOCAL = re.compile(
    r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|notifications?|alerts?|bounces?"
    r"|automated|system|daemon)([+._-].*)?$",
    re.I,
)


def is_junk_folder(name: str) -> bool:
    return name.casefold() in JUNK_FOLDERS or name.casefold().rsplit("/", 1)[-1] in (
        "junk",
        "spam",
    )


@dataclass(frozen=True)
class Signal:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    category: ClassVar[str] = ""
    strong: ClassVar[bool] = False

    def check(self, facts: MessageFacts) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class SpamVerdict(Signal):
    """The provider's spam filter said spam in a header it adds."""

    name: ClassVar[str] = "spam-verdict"
    description: ClassVar[str] = "the provider's spam filter marked it (X-Spam-Flag and kin)"
    category: ClassVar[str] = "spam"
    strong: ClassVar[bool] = True

    def check(self, facts: MessageFacts) -> str | None:
        for field in ("x-spam-flag", "x-spam", "x-spam-status", "x-yahoo-spam", "x-apple-spam"):
            value = facts.header(field)
            if value and value.strip().lower().startswith(("yes", "true", "1")):
                return f"{field}: {value.strip()[:40]}"
        scl = facts.header("x-ms-exchange-organization-scl")
        if scl and scl.strip().lstrip("-").isdigit() and int(scl.strip()) >= 5:
            return f"x-ms-exchange-organization-scl: {scl.strip()} (5 or more is spam)"
        action = facts.header("x-rspamd-action")
        if action and action.strip().lower() in ("add header", "rewrite subject", "reject"):
            return f"x-rspamd-action: {action.strip()}"
        return None


@dataclass(frozen=True)
class JunkFolder(Signal):
    """The provider (or the user) put it in the Junk folder."""

    name: ClassVar[str] = "junk-folder"
    description: ClassVar[str] = "it sits in the provider's Junk folder"
    category: ClassVar[str] = "spam"
    strong: ClassVar[bool] = True

    def check(self, facts: MessageFacts) -> str | None:
        for folder in facts.folders:
            if is_junk_folder(folder):
                return f"in the {folder} folder"
        return None


@dataclass(frozen=True)
class ListMail(Signal):
    name: ClassVar[str] = "list-mail"
    description: ClassVar[str] = "mailing-list or bulk headers (List-Id, List-Unsubscribe, bulk)"
    category: ClassVar[str] = "newsletter"

    def check(self, facts: MessageFacts) -> str | None:
        for field in ("list-id", "list-unsubscribe"):
            value = facts.header(field)
            if value:
                return f"{field}: {value.strip()[:80]}"
        precedence = (facts.header("precedence") or "").strip().lower()
        if precedence in ("bulk", "list"):
            return f"precedence: {precedence}"
        return None


@dataclass(frozen=True)
class MachineMail(Signal):
    name: ClassVar[str] = "machine-mail"
    description: ClassVar[str] = "sent by a program (Auto-Submitted, noreply senders)"
    category: ClassVar[str] = "notification"

    def check(self, facts: MessageFacts) -> str | None:
        auto = (facts.header("auto-submitted") or "").strip().lower()
        if auto and auto != "no":
            return f"auto-submitted: {auto[:40]}"
        local = facts.from_email.partition("@")[0]
        if local and _MACHINE_LOCAL.match(local):
            return f"sent by a machine address ({facts.from_email})"
        precedence = (facts.header("precedence") or "").strip().lower()
        if precedence == "junk" or facts.header("x-autoreply") or facts.header("x-autorespond"):
            return "marked as an automatic reply"
        return None


#: In order: a strong verdict first, then the weak ones.
SIGNALS: tuple[Signal, ...] = (SpamVerdict(), JunkFolder(), ListMail(), MachineMail())


def first_signal(facts: MessageFacts, categories: set[str]) -> tuple[Signal, str] | None:
    """The first signal whose category the workspace has, with its reason."""
    for signal in SIGNALS:
        if signal.category not in categories:
            continue
        reason = signal.check(facts)
        if reason is not None:
            return signal, reason
    return None
