"""App passwords: what mailmatch does with a pasted password, and what it tells the user."""

from __future__ import annotations

import pytest

from mailmatch.accounts.advice import advice_for
from mailmatch.errors import Code
from mailmatch.providers.app_passwords import check_password, clean_password, guide_lines
from mailmatch.providers.catalog import load_catalog
from mailmatch.providers.models import AppPasswordPolicy, Protocol, Provider

CATALOG = load_catalog()


def provider(provider_id: str) -> Provider:
    found = CATALOG.get(provider_id)
    assert found is not None, provider_id
    return found


# --- cleaning and recognising ------------------------------------------------------------


def test_gmail_password_pasted_with_its_display_spaces_is_joined() -> None:
    check = check_password("abcd efgh ijkl mnop", provider("gmail"))
    assert check.password == "abcdefghijklmnop"
    assert len(check.password) == 16
    assert check.changed is True
    assert check.looks_like_app_password is True
    assert check.warnings == []


def test_gmail_password_copied_from_a_web_page_loses_the_debris() -> None:
    # Browsers copy a non-breaking space, a zero-width space and a trailing line break along.
    check = check_password("\u200babcd\u00a0efgh ijkl mnop \r\n", provider("gmail"))
    assert check.password == "abcdefghijklmnop"
    assert check.looks_like_app_password is True


def test_a_regular_password_at_gmail_is_flagged_with_where_to_generate_an_app_password() -> None:
    check = check_password("Summer2024!", provider("gmail"))
    assert check.password == "Summer2024!"
    assert check.changed is False
    assert check.looks_like_app_password is False
    assert len(check.warnings) == 1
    assert "https://myaccount.google.com/apppasswords" in check.warnings[0]
    assert "will not work" in check.warnings[0]


def test_icloud_hyphenated_password_is_accepted_as_shown() -> None:
    check = check_password("abcd-efgh-ijkl-mnop\n", provider("icloud"))
    assert check.password == "abcd-efgh-ijkl-mnop"
    assert check.changed is True  # only the line break went
    assert check.looks_like_app_password is True
    assert check.warnings == []


def test_icloud_password_with_spaces_instead_of_hyphens_is_kept_and_questioned() -> None:
    # Nothing we have says Apple accepts another layout, so mailmatch asks rather than rewrites.
    check = check_password("abcd efgh ijkl mnop", provider("icloud"))
    assert check.password == "abcd efgh ijkl mnop"
    assert check.looks_like_app_password is False
    assert len(check.warnings) == 1
    assert "xxxx-xxxx-xxxx-xxxx" in check.warnings[0]
    assert "hyphens" in check.warnings[0]


def test_icloud_password_without_hyphens_has_the_right_letters_but_gets_a_hint() -> None:
    check = check_password("abcdefghijklmnop", provider("icloud"))
    assert check.password == "abcdefghijklmnop"
    assert check.looks_like_app_password is True
    assert any("hyphens" in w for w in check.warnings)


def test_icloud_account_password_is_flagged() -> None:
    check = check_password("MyAppleIdPassword1", provider("icloud"))
    assert check.looks_like_app_password is False
    assert "https://account.apple.com" in check.warnings[0]


def test_yahoo_letters_are_recognised_in_either_case() -> None:
    check = check_password("ABCD EFGH IJKL MNOP", provider("yahoo"))
    assert check.password == "ABCDEFGHIJKLMNOP"
    assert check.looks_like_app_password is True


def test_zoho_twelve_characters_are_entered_without_spaces() -> None:
    check = check_password("a1b2 c3d4 e5f6", provider("zoho"))
    assert check.password == "a1b2c3d4e5f6"
    assert check.looks_like_app_password is True


def test_provider_without_a_format_only_loses_surrounding_whitespace() -> None:
    posteo = provider("posteo")
    assert posteo.app_password.format.length is None
    check = check_password("  correct horse battery staple\n", posteo)
    assert check.password == "correct horse battery staple"  # interior spaces are kept
    assert check.changed is True
    assert check.looks_like_app_password is None
    assert check.warnings == []


def test_unknown_provider_only_loses_surrounding_whitespace() -> None:
    check = check_password("\tpass word\n", None)
    assert check == check_password("\tpass word\n", None)
    assert check.password == "pass word"
    assert check.looks_like_app_password is None
    assert check.warnings == []


def test_clean_password_without_a_rule() -> None:
    assert clean_password(" a b \n", None) == "a b"
    assert clean_password("unchanged", None) == "unchanged"


def test_empty_password_is_reported() -> None:
    check = check_password(" \n", provider("gmail"))
    assert check.password == ""
    assert check.warnings == ["The password is empty."]


# --- policies without a format -----------------------------------------------------------


def test_outlook_always_warns_that_password_logins_are_switched_off() -> None:
    for password in ("abcdefghijklmnop", "MyOutlookPassword"):
        check = check_password(password, provider("outlook_com"))
        assert len(check.warnings) == 1
        assert "switched off" in check.warnings[0]
        assert "OAuth" in check.warnings[0]


def test_ionos_says_app_password_with_two_step_and_mailbox_password_without() -> None:
    """IONOS Webmail's two-step verification makes mail programs need an app password
    (ionos.com, "Activate and configure two-step verification", Mail Basic and Mail Business);
    without it the mailbox's own password works. Every text a user reads says both."""
    ionos = provider("ionos")
    rule = ionos.app_password
    assert rule.policy is AppPasswordPolicy.WITH_2FA
    assert rule.help_url is not None and "two-step-verification" in rule.help_url
    assert rule.help_url in ionos.sources
    guide = " ".join(guide_lines(ionos))
    assert "needs an app password once two-factor sign-in is on" in guide
    assert "Login & Security" in guide
    assert "mailbox's own email password" in guide and "IONOS customer account" in guide
    advice = " ".join(
        advice_for(Code.AUTH_FAILED, protocol=Protocol.IMAP, server=ionos.imap[0], provider=ionos)
    )
    assert "app password" in advice and "mailbox's own email password" in advice
    assert "not an app password" not in " ".join([*rule.notes, *rule.steps, guide, advice])
    # No format is published: a password is never called wrong before the server says so.
    check = check_password("whatever", ionos)
    assert check.looks_like_app_password is None and check.warnings == []


def test_mail_com_and_mailbox_org_offer_app_passwords_with_two_factor() -> None:
    mail_com = provider("mailcom").app_password
    assert mail_com.policy is AppPasswordPolicy.WITH_2FA
    assert mail_com.help_url == (
        "https://support.mail.com/security/2fa/application-specific-passwords.html"
    )
    assert any("Manage application-specific passwords" in step for step in mail_com.steps)
    mailbox = provider("mailboxorg").app_password
    assert mailbox.policy is AppPasswordPolicy.WITH_2FA
    assert any("Mail app passwords" in step for step in mailbox.steps)


def test_proton_reminds_that_the_bridge_password_is_needed() -> None:
    check = check_password("whatever", provider("proton_bridge"))
    assert any("Bridge" in w for w in check.warnings)


# --- the password never leaks ------------------------------------------------------------

SECRETS = [
    "Zq9!unusualSecret",
    "wxyzwxyzwxyzwxyz",
    "wxyz wxyz wxyz wxyz",
    "qrst-qrst-qrst-qrst",
    "Pa55 w0rd with spaces",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_the_password_never_appears_in_a_warning(secret: str) -> None:
    for entry in CATALOG:
        check = check_password(f" {secret}\n", entry)
        for warning in check.warnings:
            assert secret not in warning, entry.id
            assert check.password not in warning, entry.id


# --- guides ------------------------------------------------------------------------------


def test_icloud_guide_reads_as_instructions() -> None:
    lines = guide_lines(provider("icloud"))
    assert "needs an app password" in lines[0]
    assert any(line.startswith("Before you start: Two-factor") for line in lines)
    assert any(line.startswith("1. ") for line in lines)
    assert any(line.startswith("2. ") and "App-Specific Passwords" in line for line in lines)
    assert "Generate it at: https://account.apple.com" in lines
    assert any("xxxx-xxxx-xxxx-xxxx" in line and "hyphens" in line for line in lines)
    assert any("At most 25" in line for line in lines)
    assert any("revokes every app password" in line for line in lines)


def test_gmail_guide_says_the_spaces_do_not_matter() -> None:
    lines = guide_lines(provider("gmail"))
    assert any("xxxx xxxx xxxx xxxx" in line and "removes them" in line for line in lines)
    assert "Generate it at: https://myaccount.google.com/apppasswords" in lines


def test_outlook_guide_starts_with_why_a_password_cannot_work() -> None:
    lines = guide_lines(provider("outlook_com"))
    assert "switched off" in lines[0]
    assert any("OAuth" in line for line in lines)


def test_every_provider_has_a_guide() -> None:
    for entry in CATALOG:
        lines = guide_lines(entry)
        assert lines and all(isinstance(line, str) and line for line in lines), entry.id
