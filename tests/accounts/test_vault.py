"""The vault keeps passwords encrypted at rest and survives key rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mailmatch.accounts.vault import Vault, key_id
from mailmatch.config import load_settings
from mailmatch.errors import ConfigError, VaultError


def test_first_use_creates_a_private_key_file(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path / "home")})
    vault = Vault.from_settings(settings)
    mode = stat.S_IMODE(settings.key_file.stat().st_mode)
    assert mode == 0o600
    token, kid = vault.encrypt("abcd-efgh-ijkl-mnop")
    assert "abcd" not in token
    assert kid == vault.primary_key_id
    # A second process reads the same key file and can decrypt.
    assert Vault.from_settings(settings).decrypt(token) == "abcd-efgh-ijkl-mnop"


def test_a_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    Vault.from_settings(settings)
    settings.key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Vault.from_settings(settings)


def test_keys_from_the_environment_newest_first(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token, _ = Vault([old.encode()]).encrypt("secret")
    settings = load_settings(
        {"MAILMATCH_HOME": str(tmp_path), "MAILMATCH_SECRET_KEYS": f"{new},{old}"}
    )
    vault = Vault.from_settings(settings)
    assert not settings.key_file.exists()
    assert vault.decrypt(token) == "secret"
    assert vault.primary_key_id == key_id(new.encode())


def test_rotation_reencrypts_with_the_new_key_and_drops_the_old(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    vault = Vault.from_settings(settings)
    token, old_id = vault.encrypt("secret")
    rotated = vault.with_new_key()
    rotated.save()
    new_token, new_id = rotated.reencrypt(token)
    assert new_id != old_id
    final = rotated.without_old_keys()
    final.save()
    reloaded = Vault.from_settings(settings)
    assert reloaded.decrypt(new_token) == "secret"
    with pytest.raises(VaultError, match="key that encrypted it is missing"):
        reloaded.decrypt(token)


def test_rotation_keeps_webhook_secrets_readable(tmp_path: Path) -> None:
    from mailmatch.accounts.service import AccountService
    from mailmatch.webhooks.service import WebhookService

    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    accounts = AccountService.open(settings)
    WebhookService(accounts.db, accounts.vault).add("http://127.0.0.1:9/h", "s3cret")

    assert accounts.rotate_keys() == 1

    hooks = WebhookService(accounts.db, Vault.from_settings(settings))
    with accounts.db.session() as session:
        from mailmatch.store.records import Webhook

        token = session.query(Webhook).one().secret
    assert hooks.vault.decrypt(token) == "s3cret"
