"""The vault keeps passwords encrypted at rest and survives key rotation."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from mailmatch.accounts.vault import Vault, key_id
from mailmatch.config import Settings, load_settings
from mailmatch.errors import ConfigError, VaultError
from mailmatch.net.guard import AllowList, Guard
from tests.cli import run_mailmatch


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
    receiver_here = Guard(AllowList.parse(["127.0.0.1"]))  # the owner opened this machine
    WebhookService(accounts.db, accounts.vault, guard=receiver_here).add(
        "http://127.0.0.1:9/h", "s3cret"
    )

    assert accounts.rotate_keys() == 1

    hooks = WebhookService(accounts.db, Vault.from_settings(settings))
    with accounts.db.session() as session:
        from mailmatch.store.records import Webhook

        token = session.query(Webhook).one().secret
    assert hooks.vault.decrypt(token) == "s3cret"


# -- a lost key is refused, never replaced ------------------------------------------------------


def _saved_account(settings: Settings, name: str = "work", password: str = "pw-1") -> Any:
    """An account saved without a connection test (its servers are typed in full)."""
    from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride
    from mailmatch.providers.models import Security

    accounts = AccountService.open(settings)
    accounts.add(
        NewAccount(
            address=f"{name}@example.test",
            name=name,
            imap=ServerOverride("imap.example.test", 993, Security.SSL),
            smtp=ServerOverride("smtp.example.test", 465, Security.SSL),
        ),
        password,
        test=False,
    )
    return accounts


def test_a_deleted_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    accounts = _saved_account(settings)
    backup = settings.key_file.read_bytes()
    settings.key_file.unlink()

    vault = Vault.from_settings(settings, accounts.db)

    assert not settings.key_file.exists()  # no new key over the stored password
    for attempt in (lambda: vault.encrypt("pw-2"), lambda: vault.decrypt("token")):
        with pytest.raises(VaultError) as refused:
            attempt()
        assert refused.value.code == "vault_error"
        assert str(settings.key_file) in refused.value.message
        assert any(f"restore {settings.key_file}" in a for a in refused.value.advice)
        assert any("MAILMATCH_SECRET_KEYS" in a for a in refused.value.advice)
    assert not settings.key_file.exists()

    # Restoring the file brings everything back: nothing was written over it meanwhile.
    settings.key_file.write_bytes(backup)
    settings.key_file.chmod(0o600)
    assert reopened(settings).password("work") == "pw-1"


def reopened(settings: Settings) -> Any:
    """The accounts as the next command sees them: a new process reads the key file again."""
    from mailmatch.accounts.service import AccountService

    return AccountService.open(settings)


def test_the_wrong_keys_in_the_environment_are_refused_before_a_secret_is_added(
    tmp_path: Path,
) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    accounts = _saved_account(settings)
    wrong = load_settings(
        {"MAILMATCH_HOME": str(tmp_path), "MAILMATCH_SECRET_KEYS": Fernet.generate_key().decode()}
    )
    with pytest.raises(VaultError, match="none of the keys in MAILMATCH_SECRET_KEYS") as refused:
        Vault.from_settings(wrong, accounts.db).encrypt("pw-2")
    assert key_id(settings.key_file.read_text().strip().encode()) in refused.value.message


def test_setting_the_only_password_again_is_the_way_out_of_a_lost_key(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    _saved_account(settings)
    settings.key_file.unlink()

    accounts = reopened(settings)
    accounts.set_password("work", "pw-new")

    assert settings.key_file.exists()
    assert reopened(settings).password("work") == "pw-new"


def test_the_cli_names_the_key_file_to_restore_and_writes_no_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings({"MAILMATCH_HOME": str(home)})
    _saved_account(settings)
    settings.key_file.unlink()

    listed = run_mailmatch(home, "accounts", "list", "--json")
    rotated = run_mailmatch(home, "keys", "rotate", "--json")
    added = run_mailmatch(
        home, "accounts", "add", "other@example.test", "--password-stdin", "--no-test",
        "--imap-host", "imap.example.test", "--smtp-host", "smtp.example.test", "--json",
        stdin="pw-2",
    )  # fmt: skip

    assert listed.returncode == 0, listed.stderr  # what needs no key still works
    assert [a["name"] for a in json.loads(listed.stdout)] == ["work"]
    assert rotated.returncode == 1
    error = json.loads(rotated.stdout)["error"]
    assert error["code"] == "vault_error"
    assert str(settings.key_file) in error["message"]
    assert added.returncode == 1
    assert json.loads(added.stdout)["error"]["code"] == "vault_error"
    assert not settings.key_file.exists()


# -- a failed rotation leaves the key file as it was ---------------------------------------------


def _key_file_state(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_ino, st.st_mtime_ns


def test_a_rotation_that_meets_an_unreadable_secret_changes_nothing(tmp_path: Path) -> None:
    from mailmatch.store.records import Webhook

    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    accounts = _saved_account(settings)
    foreign_token, foreign_id = Vault([Fernet.generate_key()]).encrypt("s3cret")
    with accounts.db.session() as session:
        session.add(Webhook(url="https://crm.example/h", secret=foreign_token, key_id=foreign_id,
                            events=["message.matched"]))  # fmt: skip
    before = _key_file_state(settings.key_file)

    with pytest.raises(VaultError, match="no key decrypts"):
        accounts.rotate_keys()

    assert _key_file_state(settings.key_file) == before
    assert reopened(settings).password("work") == "pw-1"


def test_a_rotation_whose_commit_fails_puts_the_key_file_back(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    accounts = _saved_account(settings)
    _saved_account(settings, "home", "pw-2")
    with accounts.db.engine.begin() as conn:  # the database refuses the re-encrypted rows
        conn.exec_driver_sql(
            "CREATE TRIGGER no_updates BEFORE UPDATE ON accounts "
            "BEGIN SELECT RAISE(ABORT, 'the disk said no'); END"
        )
    before = settings.key_file.read_bytes()

    with pytest.raises(Exception, match="the disk said no"):
        accounts.rotate_keys()

    assert settings.key_file.read_bytes() == before
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    fresh = reopened(settings)
    assert [fresh.password("work"), fresh.password("home")] == ["pw-1", "pw-2"]


def test_a_crash_after_the_commit_leaves_every_secret_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    accounts = _saved_account(settings)

    def killed(self: Vault) -> Vault:
        raise SystemExit("killed between the commit and the last key file write")

    monkeypatch.setattr(Vault, "without_old_keys", killed)
    with pytest.raises(SystemExit):
        accounts.rotate_keys()
    monkeypatch.undo()

    assert reopened(settings).password("work") == "pw-1"
    assert reopened(settings).rotate_keys() == 1  # the next rotation finishes
    assert len(settings.key_file.read_text().split()) == 1


def test_a_running_process_encrypts_with_the_key_a_rotation_wrote(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    server = _saved_account(settings)  # e.g. ``mailmatch serve``, started before the rotation
    reopened(settings).rotate_keys()  # ``mailmatch keys rotate`` in another shell

    server.set_password("work", "pw-after")

    assert reopened(settings).password("work") == "pw-after"


def test_processes_starting_together_agree_on_the_first_key(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    start = threading.Barrier(8)
    tokens: list[str] = []

    def first_use() -> None:
        start.wait()
        tokens.append(Vault.from_settings(settings).encrypt("pw")[0])

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    reader = Vault.from_settings(settings)
    assert [reader.decrypt(t) for t in tokens] == ["pw"] * 8
