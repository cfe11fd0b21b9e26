"""Encrypted storage for mailbox passwords and webhook secrets.

Secrets are Fernet tokens made with the first of a list of keys (MultiFernet), so a key can be
rotated without a window where old rows are unreadable: a new key is put first, every row is
re-encrypted, then the old key is dropped. Each row records the id of the key that encrypted it.

Keys come from ``MAILMATCH_SECRET_KEYS`` (comma separated, newest first) or, by default, from
``secret.key`` in the data home, created on first use with mode 0600 (one key per line).

A key is made only while the store holds no secret: when ``secret.key`` is deleted (or the
environment names the wrong keys) the rows are still there and a new key could never open
them, so the vault refuses, naming the file to restore and the ids of the keys it needs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import make_url

from mailmatch.config import Settings, ensure_home
from mailmatch.errors import ConfigError, VaultError
from mailmatch.store.db import Database, open_database
from mailmatch.store.secrets import encrypted_rows, stored_key_ids

#: Reads how many stored secrets each key id made (see :func:`stored_key_ids`).
StoreLookup = Callable[[], Counter[str]]


def key_id(key: bytes) -> str:
    """A short, non-secret name for a key: enough to tell keys apart in the database."""
    return hashlib.sha256(key).hexdigest()[:12]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when another process rewrites the key file (it is replaced, not edited)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


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


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: without it a power loss can bring back the old file."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not every platform opens directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_key_file(path: Path, content: str, *, only_if_absent: bool = False) -> bool:
    """Write the key file atomically, 0600 from the start: a temporary file in the same folder
    (``mkstemp`` creates it 0600), fsynced, then renamed over the old one, so a reader or a
    crash sees the old file or the new one, never half of either.

    ``only_if_absent`` links the file into place instead and returns False when another
    process made one first: two processes making "the first key" at once must not each
    encrypt with their own key while only one of them ends up on disk.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        if only_if_absent:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def _key_lines(keys: list[bytes]) -> str:
    return "".join(k.decode() + "\n" for k in keys)


def store_lookup(settings: Settings, db: Database | None) -> StoreLookup:
    """How the vault asks the store which keys its secrets need.

    Without a ``Database`` the store is opened from the settings when asked (and closed
    again), so no caller can skip the check by forgetting to pass one; a SQLite file that
    does not exist yet holds no secrets and is not created by asking.
    """

    def lookup() -> Counter[str]:
        if db is not None:
            return stored_key_ids(db)
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and not (
            url.database and Path(url.database).exists()
        ):
            return Counter()
        opened = open_database(settings, upgrade=False)
        try:
            return stored_key_ids(opened)
        finally:
            opened.engine.dispose()

    return lookup


class Vault:
    def __init__(
        self,
        keys: list[bytes],
        *,
        key_file: Path | None = None,
        store: StoreLookup | None = None,
        from_env: bool = False,
    ) -> None:
        # No key is allowed only for a key file that is missing while secrets exist (see
        # ``from_settings``): such a vault refuses every encrypt and decrypt.
        if not keys and key_file is None:
            raise ConfigError("the vault needs at least one key")
        self.key_file = key_file
        self._store = store
        self._from_env = from_env
        self._load(keys)
        self._file_stamp = _stamp(key_file) if key_file and keys else None

    def _load(self, keys: list[bytes]) -> None:
        try:
            self._fernets = [Fernet(k) for k in keys]
        except ValueError as exc:
            raise ConfigError(f"invalid secret key: {exc}") from None
        self._keys = list(keys)
        self._multi = MultiFernet(self._fernets) if keys else None

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> Vault:
        store = store_lookup(settings, db)
        if settings.secret_keys:
            return cls([k.encode() for k in settings.secret_keys], store=store, from_env=True)
        path = settings.key_file
        if not path.exists():
            ensure_home(settings)
            vault = cls([], key_file=path, store=store)
            vault._make_first_key()  # unless the store holds secrets: then it stays locked
            return vault
        return cls(_read_key_file(path), key_file=path, store=store)

    @property
    def key_ids(self) -> list[str]:
        return [key_id(k) for k in self._keys]

    @property
    def primary_key_id(self) -> str:
        self._require_keys()
        return key_id(self._keys[0])

    # -- which keys the store needs ----------------------------------------------------------

    def _stored(self) -> Counter[str]:
        return self._store() if self._store is not None else Counter()

    def _make_first_key(self, replacing: str | None = None) -> None:
        """Make ``secret.key``, but only while no stored secret (other than the one being
        replaced) needs another key."""
        assert self.key_file is not None
        if _without(self._stored(), replacing):
            return
        # False when another process made it first: then its key is the one to use.
        _write_key_file(self.key_file, _key_lines([Fernet.generate_key()]), only_if_absent=True)
        self._load(_read_key_file(self.key_file))
        self._file_stamp = _stamp(self.key_file)

    def _refresh(self, replacing: str | None = None) -> bool:
        """Re-read the key file when another process replaced it (``keys rotate`` while
        ``serve`` runs); True when the keys changed. A key file deleted under a running
        process is not recreated: the keys in memory still open the rows."""
        if self.key_file is None or self._from_env:
            return False
        stamp = _stamp(self.key_file)
        if stamp is None:
            if not self._keys:
                self._make_first_key(replacing)
                return bool(self._keys)
            return False
        if stamp == self._file_stamp:
            return False
        before = self._keys
        self._load(_read_key_file(self.key_file))
        self._file_stamp = stamp
        return self._keys != before

    def _lost_keys_error(self, stored: Counter[str]) -> VaultError:
        missing = sorted(kid for kid in stored if kid not in set(self.key_ids))
        count = sum(stored[kid] for kid in missing)
        what = f"{count} stored secret(s) (mailbox passwords, webhook secrets)"
        ids = ", ".join(missing)
        if self._from_env:
            return VaultError(
                f"none of the keys in MAILMATCH_SECRET_KEYS opens the {what}: they were "
                f"encrypted with key id(s) {ids}",
                advice=[
                    "set MAILMATCH_SECRET_KEYS to the keys they were made with, newest first",
                    "or unset it to use the key file in the data home",
                ],
            )
        return VaultError(
            f"the key that encrypted the {what} is missing: {self.key_file} "
            f"{'holds other keys' if self._keys else 'does not exist'} (needed: key id(s) {ids})",
            advice=[
                f"restore {self.key_file} from a backup of the data home (then: chmod 600 it)",
                "or set MAILMATCH_SECRET_KEYS to the key(s) they were made with",
                "mailmatch makes no new key while these secrets exist: a new key never opens "
                "them. If the key is lost for good, remove those accounts and webhooks and "
                "add them again",
            ],
        )

    def _require_keys(self, replacing: str | None = None) -> None:
        if not self._keys:
            raise self._lost_keys_error(_without(self._stored(), replacing))

    def check_store(self, replacing: str | None = None) -> None:
        """Refuse when the store holds secrets and none of them was made by one of our keys:
        a secret added now would be the only one this vault can open, and the user would
        learn about the lost key only when the old secrets are needed. ``replacing`` is the
        key id of a secret this write replaces (setting a password again is the way out)."""
        self._require_keys(replacing)
        stored = _without(self._stored(), replacing)
        if stored and not set(stored) & set(self.key_ids):
            raise self._lost_keys_error(stored)

    # -- tokens ------------------------------------------------------------------------------

    def encrypt(self, secret: str, *, replacing: str | None = None) -> tuple[str, str]:
        """Returns the token and the id of the key that made it. ``replacing``: the key id of
        the stored secret this one replaces, if any."""
        self._refresh(replacing)
        self.check_store(replacing)
        return self._fernets[0].encrypt(secret.encode()).decode(), self.primary_key_id

    def decrypt(self, token: str) -> str:
        self._refresh()
        self._require_keys()
        assert self._multi is not None
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken:
            restore = (
                "put the key that made it back into MAILMATCH_SECRET_KEYS"
                if self._from_env or self.key_file is None
                else f"restore the previous {self.key_file} (or set MAILMATCH_SECRET_KEYS to "
                "the key that made it)"
            )
            raise VaultError(
                "cannot decrypt a stored password: the key that encrypted it is missing",
                advice=[
                    restore,
                    "or set the password again: mailmatch accounts set-password NAME",
                ],
            ) from None

    def reencrypt(self, token: str) -> tuple[str, str]:
        """Re-encrypt a token with the primary key (MultiFernet.rotate keeps the timestamp)."""
        self._require_keys()
        assert self._multi is not None
        try:
            return self._multi.rotate(token.encode()).decode(), self.primary_key_id
        except InvalidToken:
            raise VaultError(
                "cannot re-encrypt: no key decrypts this password",
                advice=[f"restore the key that made it (key ids known here: {self.key_ids})"],
            ) from None

    # -- keys --------------------------------------------------------------------------------

    def _derived(self, keys: list[bytes]) -> Vault:
        vault = Vault(keys, key_file=self.key_file, store=self._store, from_env=self._from_env)
        vault._file_stamp = self._file_stamp
        return vault

    def with_new_key(self) -> Vault:
        """A vault whose primary key is new, still able to read the old keys' tokens."""
        self._require_keys()
        return self._derived([Fernet.generate_key(), *self._keys])

    def without_old_keys(self) -> Vault:
        return self._derived(self._keys[:1])

    def save(self) -> None:
        if self.key_file is None or self._from_env:
            raise ConfigError(
                "keys come from MAILMATCH_SECRET_KEYS: put the new key first in that variable"
            )
        _write_key_file(self.key_file, _key_lines(self._keys))
        self._file_stamp = _stamp(self.key_file)


def _without(stored: Counter[str], replacing: str | None) -> Counter[str]:
    """The stored counts less the one secret a write replaces."""
    if replacing is None:
        return stored
    rest = stored.copy()
    rest[replacing] -= 1
    return +rest  # drops ids whose count fell to zero


def rotate_keys(vault: Vault, db: Database) -> tuple[Vault, int]:
    """Re-encrypt every secret (passwords, webhook secrets) with a new key; returns the new
    vault and how many secrets it re-encrypted.

    The order keeps every row readable from the key file at every instant, and a failed
    rotation leaves the key file as it was:

    1. under the store's write lock, every secret is re-encrypted in memory with a new key;
       one that no key opens stops the rotation before anything is written;
    2. the key file becomes "new key, then the old ones" (atomically), then the transaction
       commits: a crash in between leaves old rows that the old keys still open;
    3. if the commit fails, the old key file is put back, unless the store already holds
       rows of the new key (a commit that failed to report success);
    4. only then is the file rewritten with the new key alone. A crash before this step
       leaves the old keys in the file too, harmless: the next rotation drops them.

    With ``MAILMATCH_SECRET_KEYS`` the user puts the new key first themselves; every row is
    re-encrypted with it. Deliberately across every workspace: the keys are the data home's.
    """
    from_file = vault.key_file is not None and not vault._from_env
    vault._refresh()
    vault._require_keys()
    rotated = vault.with_new_key() if from_file else vault
    before = vault.key_file.read_bytes() if from_file and vault.key_file else None
    count = 0
    wrote = False
    try:
        with db.session() as session:
            rows = encrypted_rows(session)
            for row in rows:
                row.secret, row.key_id = rotated.reencrypt(row.secret)
            count = len(rows)
            session.flush()
            if from_file:
                wrote = True
                rotated.save()
    except BaseException:
        if (
            wrote
            and before is not None
            and rotated.primary_key_id not in _stored_or_assume(db, rotated)
        ):
            assert vault.key_file is not None
            _write_key_file(vault.key_file, before.decode())
        raise
    # Drop the old keys only when no secret needs them any more: a process that encrypted with
    # an old key while this ran (it re-reads the key file first, so only in a tiny window)
    # keeps its row readable, and the next rotation finishes the job.
    if from_file and set(stored_key_ids(db)) <= {rotated.primary_key_id}:
        rotated = rotated.without_old_keys()
        rotated.save()
    return rotated, count


def _stored_or_assume(db: Database, rotated: Vault) -> set[str]:
    """The key ids the store's secrets use; when the store cannot say, assume the new key's
    rows may be there (keeping an extra key in the file is safe, dropping one is not)."""
    try:
        return set(stored_key_ids(db))
    except Exception:
        return {rotated.primary_key_id}
