"""Encrypted storage for mailbox passwords.

Passwords are Fernet tokens made with the first of a list of keys (MultiFernet), so a key can be
rotated without a window where old rows are unreadable: a new key is put first, every row is
re-encrypted, then the old key is dropped. Each row records the id of the key that encrypted it.

Keys come from ``MAILMATCH_SECRET_KEYS`` (comma separated, newest first) or, by default, from
``secret.key`` in the data home, created on first use with mode 0600 (one key per line).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mailmatch.config import Settings, ensure_home
from mailmatch.errors import ConfigError, VaultError


def key_id(key: bytes) -> str:
    """A short, non-secret name for a key: enough to tell keys apart in the database."""
    return hashlib.sha256(key).hexdigest()[:12]


def _read_key_file(path: Path) -> list[bytes]:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path} is readable by other users (mode {mode:o}); run: chmod 600 {path}"
        )
    keys = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise ConfigError(f"{path} holds no key")
    return keys


def _write_key_file(path: Path, keys: list[bytes]) -> None:
    """Write atomically with 0600 from the start: the key must never exist world-readable."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(k.decode() + "\n" for k in keys))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Vault:
    def __init__(self, keys: list[bytes], *, key_file: Path | None = None) -> None:
        if not keys:
            raise ConfigError("the vault needs at least one key")
        try:
            self._fernets = [Fernet(k) for k in keys]
        except ValueError as exc:
            raise ConfigError(f"invalid secret key: {exc}") from None
        self._keys = list(keys)
        self._multi = MultiFernet(self._fernets)
        self.key_file = key_file

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        if settings.secret_keys:
            return cls([k.encode() for k in settings.secret_keys])
        path = settings.key_file
        if not path.exists():
            ensure_home(settings)
            _write_key_file(path, [Fernet.generate_key()])
        return cls(_read_key_file(path), key_file=path)

    @property
    def primary_key_id(self) -> str:
        return key_id(self._keys[0])

    def encrypt(self, secret: str) -> tuple[str, str]:
        """Returns the token and the id of the key that made it."""
        return self._fernets[0].encrypt(secret.encode()).decode(), self.primary_key_id

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError(
                "cannot decrypt a stored password: the key that encrypted it is missing",
                advice=[
                    "restore the previous secret.key or MAILMATCH_SECRET_KEYS value",
                    "or set the password again: mailmatch accounts set-password NAME",
                ],
            ) from None

    def reencrypt(self, token: str) -> tuple[str, str]:
        """Re-encrypt a token with the primary key (MultiFernet.rotate keeps the timestamp)."""
        try:
            return self._multi.rotate(token.encode()).decode(), self.primary_key_id
        except InvalidToken:
            raise VaultError("cannot re-encrypt: no key decrypts this password") from None

    def with_new_key(self) -> Vault:
        """A vault whose primary key is new, still able to read the old keys' tokens."""
        return Vault([Fernet.generate_key(), *self._keys], key_file=self.key_file)

    def without_old_keys(self) -> Vault:
        return Vault(self._keys[:1], key_file=self.key_file)

    def save(self) -> None:
        if self.key_file is None:
            raise ConfigError(
                "keys come from MAILMATCH_SECRET_KEYS: put the new key first in that variable"
            )
        _write_key_file(self.key_file, self._keys)
