"""Address normalisation and the free-mail domain list (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


@cache
def freemail_domains() -> frozenset[str]:
    text = resources.files("mailmatch.matching").joinpath("freemail.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def is_freemail(domain: str) -> bool:
    return domain.lower() in freemail_domains()


@dataclass(frozen=True)
class Normalizer:
    """How addresses are compared. Case never matters; plus-tags and Gmail dots are options."""

    plus_tags: bool = False  # bob+news@acme.com is bob@acme.com
    gmail_dots: bool = False  # b.o.b@gmail.com is bob@gmail.com

    def __call__(self, email: str) -> str:
        email = email.strip().lower()
        local, at, domain = email.rpartition("@")
        if not at:
            return email
        if self.plus_tags and "+" in local:
            local = local.split("+", 1)[0]
        if self.gmail_dots and domain in GMAIL_DOMAINS:
            local = local.replace(".", "")
            domain = "gmail.com"
        return f"{local}@{domain}"

    @property
    def exact(self) -> bool:
        return not (self.plus_tags or self.gmail_dots)


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()
