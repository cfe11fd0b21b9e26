"""``mailmatch keys``: the key that encrypts stored secrets."""

from __future__ import annotations

import typer

from mailmatch.cli.common import JsonOpt, _emit, _run, _service, _settings, out

keys_app = typer.Typer(no_args_is_help=True, help="The key that encrypts stored passwords.")


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Encrypt every stored password and webhook secret with a new key, then drop the old key.

    If anything fails, the key file is left as it was and every secret still opens."""
    settings = _settings()
    count = _run(lambda: _service(settings).rotate_keys(), as_json)
    if as_json:
        _emit({"reencrypted": count})
    elif settings.secret_keys:
        out.print(
            f"Re-encrypted {count} secret(s) (passwords, webhook secrets) with the first key "
            "of MAILMATCH_SECRET_KEYS; the others can now be removed from it."
        )
    else:
        out.print(
            f"Re-encrypted {count} secret(s) (passwords, webhook secrets) with a new key in "
            f"{settings.key_file}. Back up that file: without it they cannot be read."
        )
