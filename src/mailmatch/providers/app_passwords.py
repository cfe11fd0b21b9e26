"""App passwords: clean what the user pasted, say whether it looks right, explain how to get one.

Most failed first logins are not wrong servers but the wrong kind of password: the account
password where the provider only accepts an app password, or an app password mangled by copying it
from a web page (a trailing newline, the spaces Gmail shows between groups). This module fixes what
can be fixed safely and turns the rest into sentences the user can act on, using the provider's
own rules from the catalog (:class:`~mailmatch.providers.models.AppPasswordRule`).

Two rules hold throughout:

* A password is only ever changed where the provider's published format says the change is
  harmless: leading and trailing whitespace always (it is never part of a generated password and
  web pages add it), interior spaces only when the format says they are display grouping.
* The password itself never appears in a warning, a guide line or an exception: these texts are
  printed, logged and returned by the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailmatch.providers.models import (
    AppPasswordPolicy,
    AppPasswordRule,
    PasswordFormat,
    Provider,
)

# Characters that copying from a web page can add around (or, for grouped formats, inside) a
# password. They are not whitespace to ``str.strip`` but are just as invisible to the user.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"

_SEPARATOR_NAMES = {"-": "hyphens", ".": "dots", "_": "underscores"}


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of :func:`check_password`.

    ``password`` is what should be sent to the server. ``looks_like_app_password`` is ``None``
    when the provider publishes no format, so "unknown" is never mistaken for "wrong".
    ``warnings`` are complete sentences for the user and never contain the password.
    """

    password: str = field(repr=False)  # the cleaned password to use; never in a repr
    changed: bool  # cleaning removed something (spaces, line breaks, separators)
    looks_like_app_password: bool | None  # None when the provider publishes no format
    warnings: list[str]


def _strip_edges(raw: str) -> str:
    """Remove whitespace, line breaks and zero-width characters from both ends.

    ``str.strip()`` covers all Unicode whitespace (including the non-breaking space browsers put
    into copied text); zero-width characters are removed too because they are equally invisible
    and equally likely to come from a copy. Both are repeated until nothing changes, since the two
    kinds can be interleaved.
    """
    text = raw
    while True:
        stripped = text.strip().strip(_INVISIBLE)
        if stripped == text:
            return text
        text = stripped


def _spaces_are_grouping(fmt: PasswordFormat) -> bool:
    """True when the provider shows the password in space-separated groups that are not part of it.

    The catalog expresses this as a whitespace ``separator`` (Gmail ``xxxx xxxx xxxx xxxx``,
    Yahoo, Fastmail, Zoho). A visible separator such as iCloud's hyphen is part of the password as
    displayed and is not covered by this.
    """
    return fmt.separator is not None and fmt.separator.isspace()


def clean_password(raw: str, rule: AppPasswordRule | None) -> str:
    """The password to send to the server, with copy-and-paste debris removed.

    Always: whitespace, line breaks and zero-width characters are stripped from both ends; no
    generated password starts or ends with them, while copying from a web page often adds them.

    Only when ``rule.format`` says spaces are display grouping (a whitespace ``separator``): every
    interior space, tab, line break and zero-width character is removed too, because such providers
    generate passwords from letters/digits only and merely *show* the groups apart.

    Everything else is left alone. In particular iCloud's hyphens are kept: Apple displays
    app-specific passwords as ``xxxx-xxxx-xxxx-xxxx`` and the material we have (Apple's support
    article, user reports) only says to enter them as displayed, "dashes and all"; nothing says
    Apple also accepts them without the hyphens or with spaces instead. Rewriting the user's input
    into a form we cannot show to be accepted would turn a fixable typo into a silent failure, so
    :func:`check_password` warns about the layout instead of changing it. A provider with no
    published format only ever gets its ends stripped.
    """
    text = _strip_edges(raw)
    if rule is not None and _spaces_are_grouping(rule.format):
        text = "".join(ch for ch in "".join(text.split()) if ch not in _INVISIBLE)
    return text


def _significant(password: str, fmt: PasswordFormat) -> str:
    """The characters that count towards the format's ``length`` (separators removed)."""
    if fmt.separator and not _spaces_are_grouping(fmt):
        return password.replace(fmt.separator, "")
    return password


def _fits(text: str, length: int | None, charset: str | None, case_sensitive: bool) -> bool:
    if length is not None and len(text) != length:
        return False
    if charset is not None:
        flags = 0 if case_sensitive else re.IGNORECASE
        return re.fullmatch(f"[{charset}]+", text, flags) is not None
    return bool(text)


def _looks_like(password: str, fmt: PasswordFormat) -> bool | None:
    """Whether ``password`` matches the published length and character set.

    ``None`` when the provider publishes neither: the password may well be right, we just cannot
    tell, and saying "does not look like" would push the user to replace a correct password.
    """
    if fmt.length is None and fmt.charset is None:
        return None
    return _fits(_significant(password, fmt), fmt.length, fmt.charset, fmt.case_sensitive)


def _canonical_layout(password: str, fmt: PasswordFormat) -> bool:
    """Whether a visibly separated password has its separators where the provider shows them."""
    if not fmt.separator or _spaces_are_grouping(fmt) or not fmt.groups:
        return True
    part = f"[{fmt.charset}]" if fmt.charset else "."
    pattern = re.escape(fmt.separator).join(f"{part}{{{n}}}" for n in fmt.groups)
    flags = 0 if fmt.case_sensitive else re.IGNORECASE
    return re.fullmatch(pattern, password, flags) is not None


#: Letters whose spoken name starts with a vowel sound: "an SFR", "an MX host", but "a KPN".
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")


def with_article(name: str) -> str:
    """``name`` after "a" or "an", by how it is said: "an iCloud", "an IONOS", "a Gmail".

    A name in capitals without a vowel (SFR, KPN, GMX) is spelled out letter by letter, so its
    first letter's spoken name decides; any other name is read as a word, and its first letter
    does (IONOS and STRATO are words).
    """
    word = name.split()[0] if name.split() else name
    letters = "".join(c for c in word if c.isalpha())
    if not letters:
        return f"a {name}"
    spelled = letters.isupper() and not any(c in "AEIOU" for c in letters[1:])
    vowel = letters[0] in _VOWEL_SOUND_LETTERS if spelled else letters[0].lower() in "aeiou"
    return ("an " if vowel else "a ") + name


def _shape(fmt: PasswordFormat) -> str:
    """How the app password looks, for messages: the display mask or its length."""
    if fmt.display_mask:
        return fmt.display_mask
    if fmt.length is not None:
        return f"{fmt.length} characters"
    return "the provider's format"


def _where_to_generate(rule: AppPasswordRule) -> str | None:
    return rule.generate_url or rule.help_url


def _explanation(provider: Provider, *, with_link: bool) -> str:
    """The user-facing sentence for policies where the question is not "does it look right".

    For ``mailbox_password``, ``bridge`` and ``not_supported`` the catalog's first note is written
    for the user (a hosting panel's "the mailbox's own email password ... not the customer login");
    a generic sentence is the fallback for entries without notes.
    """
    rule = provider.app_password
    if rule.notes:
        text = rule.notes[0]
    elif rule.policy is AppPasswordPolicy.NOT_SUPPORTED:
        text = (
            f"{provider.name} has switched off password logins for IMAP and SMTP; "
            "app passwords do not work either."
        )
    elif rule.policy is AppPasswordPolicy.BRIDGE:
        text = (
            f"Use the password that the local bridge program shows for {provider.name}, "
            "not your account password."
        )
    else:
        text = (
            f"{provider.name} does not use app passwords: sign in with the mailbox's own password."
        )
    if with_link and rule.policy is AppPasswordPolicy.NOT_SUPPORTED and rule.help_url:
        text = f"{text} See {rule.help_url}"
    return text


def _mismatch_warning(provider: Provider) -> str:
    rule = provider.app_password
    name = provider.name
    sentence = f"This does not look like {with_article(name)} app password ({_shape(rule.format)})."
    if rule.policy is AppPasswordPolicy.REQUIRED:
        consequence = f"Your regular {name} password will not work for IMAP and SMTP"
    else:
        consequence = (
            f"Once two-factor sign-in is on, your regular {name} password "
            "will not work for IMAP and SMTP"
        )
    where = _where_to_generate(rule)
    tail = f": generate an app password at {where}." if where else "."
    return f"{sentence} {consequence}{tail}"


def _layout_warning(provider: Provider) -> str:
    fmt = provider.app_password.format
    separator = fmt.separator or ""
    what = _SEPARATOR_NAMES.get(separator, f"'{separator}' separators")
    return (
        f"{provider.name} shows app passwords as {_shape(fmt)}: enter it exactly as shown, "
        f"with the {what} in place."
    )


def check_password(raw: str, provider: Provider | None) -> PasswordCheck:
    """Clean ``raw`` and say, in the provider's terms, whether it can work.

    Why each warning exists:

    * ``required`` / ``with_2fa`` with a published format: a password that does not fit is almost
      always the account password, which the server will refuse with an unhelpful
      "authentication failed"; saying so before connecting, with the URL to generate one, saves a
      failed login (and, at Yahoo, a lock-out after repeated bad attempts).
    * a visibly separated format (iCloud's hyphens) typed without or with other separators: the
      characters are right but we cannot show the provider accepts that layout, so we ask instead
      of rewriting (see :func:`clean_password`).
    * ``not_supported`` (Outlook.com): always, because no password of any kind will work.
    * ``mailbox_password`` (hosting panels) and ``bridge`` (Proton): always, because the usual
      mistake is the account login instead of the mailbox or bridge password, and no format can
      detect it.
    """
    rule = provider.app_password if provider is not None else None
    password = clean_password(raw, rule)
    warnings: list[str] = []
    if not password:
        warnings.append("The password is empty.")
    if provider is None or rule is None:
        return PasswordCheck(password, password != raw, None, warnings)

    fmt = rule.format
    looks = _looks_like(password, fmt)
    policy = rule.policy
    if policy in (AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA) and password:
        if looks is False:
            respaced = "".join(password.split())
            if fmt.separator and not _spaces_are_grouping(fmt) and _looks_like(respaced, fmt):
                warnings.append(_layout_warning(provider))
            else:
                warnings.append(_mismatch_warning(provider))
        elif looks and not _canonical_layout(password, fmt):
            warnings.append(_layout_warning(provider))
    elif policy in (
        AppPasswordPolicy.NOT_SUPPORTED,
        AppPasswordPolicy.MAILBOX_PASSWORD,
        AppPasswordPolicy.BRIDGE,
    ):
        warnings.append(_explanation(provider, with_link=True))
    return PasswordCheck(password, password != raw, looks, warnings)


def policy_line(provider: Provider) -> str:
    """One sentence on whether the provider needs an app password (used by the guides too)."""
    name = provider.name
    policy = provider.app_password.policy
    if policy is AppPasswordPolicy.REQUIRED:
        return (
            f"{name} needs an app password for IMAP and SMTP: your regular password will not work."
        )
    if policy is AppPasswordPolicy.WITH_2FA:
        return (
            f"{name} needs an app password once two-factor sign-in is on; "
            "without two-factor sign-in the regular password works."
        )
    if policy is AppPasswordPolicy.OPTIONAL:
        return (
            f"{name} supports app passwords; using one keeps your main password out of mailmatch."
        )
    return _explanation(provider, with_link=False)  # the guide has its own "Help:" line


def format_hint(fmt: PasswordFormat) -> str | None:
    """What the provider's app passwords look like, when it is known."""
    if fmt.display_mask:
        hint = f"An app password looks like {fmt.display_mask}"
    elif fmt.length is not None:
        hint = f"An app password has {fmt.length} characters"
    else:
        return None
    if _spaces_are_grouping(fmt):
        hint += " (the spaces are only for reading; mailmatch removes them)"
    elif fmt.separator:
        what = _SEPARATOR_NAMES.get(fmt.separator, f"'{fmt.separator}' separators")
        hint += f" (enter it with the {what}, as shown)"
    return hint + "."


def guide_lines(provider: Provider) -> list[str]:
    """What the user must do to get a working password, as lines for the CLI and the wizard.

    Order follows what the user does: what kind of password is needed, prerequisites, the numbered
    steps, where to go, what the result looks like, and what later invalidates it. Steps are stored
    unnumbered in the catalog and numbered here, so that reordering them in the catalog cannot
    leave stale numbers. The IMAP switch (``provider.imap_switch``) is not repeated here: callers
    show it next to the server settings, where it belongs.
    """
    rule = provider.app_password
    lines = [policy_line(provider)]
    lines.extend(f"Before you start: {item}" for item in rule.prerequisites)
    lines.extend(f"{number}. {step}" for number, step in enumerate(rule.steps, start=1))
    if rule.generate_url:
        lines.append(f"Generate it at: {rule.generate_url}")
    if rule.help_url:
        lines.append(f"Help: {rule.help_url}")
    hint = format_hint(rule.format)
    if hint:
        lines.append(hint)
    if rule.max_active:
        lines.append(f"At most {rule.max_active} app passwords can be active at the same time.")
    if rule.revoked_on_password_change:
        lines.append(
            "Changing the account password revokes every app password: you will need a new one."
        )
    return lines
