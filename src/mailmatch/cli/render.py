"""How results look on a terminal, and their JSON shapes for ``--json``.

Kept apart from the command modules so that command functions stay a few lines each.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mailmatch.providers.discovery_models import Discovery
from mailmatch.providers.models import Provider
from mailmatch.timeutil import aware

if TYPE_CHECKING:
    from mailmatch.accounts.certificate import PeerCertificate
    from mailmatch.accounts.probe import ConnectionTest, ProtocolResult
    from mailmatch.accounts.service import AccountView, AddResult


# Output that goes to a file or a pipe is read by grep, less or a script, not by eyes on an
# 80-column screen: lines may be as long as their content, so no cell is cut to fit.
UNWRAPPED_WIDTH = 10_000
# A listing longer than this is streamed as plain aligned columns: rich measures every cell of
# a table before printing its first line (about 1 ms a row, 100 s for 100,000 contacts).
TABLE_ROWS = 1_000


def output_width(stream: TextIO, environ: Mapping[str, str] = os.environ) -> int | None:
    """The width to give rich's ``Console`` for ``stream``; None lets rich decide.

    On a terminal rich reads its real size (or ``$COLUMNS``, which it honours first). Anywhere
    else rich assumes 80 columns and cuts table cells with "…" to fit; there, unless
    ``$COLUMNS`` says otherwise, lines are left as long as they need to be.
    """
    columns = environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return None
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a terminal
        interactive = False
    return None if interactive else UNWRAPPED_WIDTH


def print_table(console: Console, table: Table, empty: str) -> None:
    """``table``, or the sentence ``empty`` when it has no rows: an empty frame of headers
    tells nobody anything, a sentence can say what to do next.

    A cell too wide for the terminal wraps onto the next line instead of ending in "…": an
    address or a host name cut short is worse than a taller table.
    """
    if table.row_count == 0:
        console.print(empty, highlight=False, markup=False)
        return
    for column in table.columns:
        column.overflow = "fold"
    console.print(table)


def print_rows(
    console: Console,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    empty: str,
) -> None:
    """Rows as a table, however many there are, starting to print before all are read.

    Up to ``TABLE_ROWS`` rows make an ordinary rich table. A longer listing is printed as plain
    columns (padded to the widths of its first rows, never cut), streamed as the rows come:
    with 100,000 contacts a table would hold everything in memory and print nothing for
    minutes.
    """
    stream: Iterator[Sequence[str]] = iter(rows)
    first = list(islice(stream, TABLE_ROWS + 1))
    if len(first) <= TABLE_ROWS:
        table = Table(*headers)
        for row in first:
            table.add_row(*row)
        print_table(console, table, empty)
        return
    widths = [max(len(str(r[i])) for r in [headers, *first]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = (str(c).ljust(w) for c, w in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip() + "\n"

    file = console.file
    file.write(line(headers))
    file.write(line(["-" * w for w in widths]))
    for row in first:
        file.write(line(row))
    for row in stream:
        file.write(line(row))
    file.flush()


def provider_summary(p: Provider) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "domains": list(p.domains),
        "imap": p.imap[0].to_json(),
        "smtp": p.smtp[0].to_json(),
        "app_password": {
            "policy": str(p.app_password.policy),
            "required": p.app_password.required,
            "generate_url": p.app_password.generate_url,
        },
        "regions": [r.id for r in p.regions],
    }


def print_discovery(console: Console, found: Discovery, *, brief: bool = False) -> None:
    provider = found.provider
    title = provider.name if provider else found.domain
    console.print(f"[bold]{title}[/] (found via {found.source})", highlight=False)
    for note in found.notes:
        console.print(f"  {note}", style="dim", highlight=False, markup=False)
    console.print(
        f"  IMAP  {found.imap.host}:{found.imap.port} ({found.imap.security})\n"
        f"  SMTP  {found.smtp.host}:{found.smtp.port} ({found.smtp.security})\n"
        f"  user  {found.username}",
        highlight=False,
    )
    if provider is None:
        return
    from mailmatch.providers.app_passwords import guide_lines

    if provider.imap_switch:
        console.print(
            f"  IMAP must be switched on: {provider.imap_switch.where}",
            highlight=False,
            markup=False,
        )
    lines = guide_lines(provider)
    if lines:
        console.print("[bold]App password[/]")
        for line in lines:
            console.print(f"  {line}", highlight=False, markup=False)
    if not brief:
        for alt in found.imap_alternatives + found.smtp_alternatives:
            console.print(
                f"  alternative: {alt.host}:{alt.port} ({alt.security})",
                highlight=False,
                markup=False,
            )
        for quirk in provider.quirks:
            console.print(f"  quirk: {quirk}", style="dim", highlight=False, markup=False)


def _print_protocol(console: Console, label: str, result: ProtocolResult) -> None:
    mark = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
    server = result.server
    console.print(
        f"{label} {server.host}:{server.port} ({server.security}): {mark}", highlight=False
    )
    for step in result.steps:
        sign = "[green]✓[/]" if step.ok else "[red]✗[/]"
        detail = escape(f"{step.name}: {step.detail}")
        console.print(f"  {sign} {detail}", highlight=False, emoji=False)
    d = result.diagnosis
    if d is not None:
        console.print(f"  [bold]{d.code}[/]: {d.message}", highlight=False)
        if d.server_text:
            console.print(
                f"  server said: {d.server_text}", highlight=False, markup=False, emoji=False
            )
        if d.certificate is not None:
            _print_certificate(console, d.certificate)
        for line in d.advice:
            console.print(f"  → {line}", highlight=False, markup=False, emoji=False)
    if result.alternative is not None:
        _print_protocol(console, f"{label} (other port)", result.alternative)


def _print_certificate(console: Console, cert: PeerCertificate) -> None:
    """What the server presented, so the user can recognise it before pinning it."""
    issuer = cert.issuer or "(no name)"
    lines = [
        f"SHA-256 {cert.colon_fingerprint}",
        f"issued to {cert.subject or '(no name)'} by {issuer}"
        + (" (self-signed)" if cert.self_signed else ""),
        f"valid for {', '.join(cert.names) or '(no names listed)'}",
        f"valid {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d}"
        + (" (expired)" if cert.expired else ""),
    ]
    console.print("  the server's certificate:", highlight=False)
    for line in lines:
        # emoji=False: rich would turn the ":ab:" inside a fingerprint into an emoji
        console.print(f"    {line}", highlight=False, markup=False, emoji=False, soft_wrap=True)


def pin_flag(test: ConnectionTest) -> str | None:
    """``--cert-fingerprint ...`` when a failed TLS step saw a certificate that may be pinned."""
    for result in (test.imap, test.smtp):
        d = result.diagnosis
        if not result.ok and d is not None and d.certificate is not None:
            if not any(d.certificate.fingerprint in line for line in d.advice):
                return None  # the advice fixes it another way (connect by the certificate's name)
            return (
                f"--cert-fingerprint {d.certificate.fingerprint}" if d.certificate.can_pin else None
            )
    return None


def print_test(console: Console, result: ConnectionTest) -> None:
    _print_protocol(console, "IMAP", result.imap)
    _print_protocol(console, "SMTP", result.smtp)


def add_result_json(result: AddResult) -> dict[str, Any]:
    return {
        "saved": result.saved,
        "account": result.account.to_json() if result.account else None,
        "discovery": result.discovery.to_json(),
        "password_warnings": result.password.warnings,
        "password_cleaned": result.password.changed,
        "test": result.test.to_json() if result.test else None,
        "smtp_switched_to": result.smtp_switched.to_json() if result.smtp_switched else None,
    }


def print_add_result(console: Console, result: AddResult) -> None:
    for warning in result.password.warnings:
        console.print(f"[yellow]warning[/]: {warning}", highlight=False)
    if result.password.changed:
        console.print("Removed spaces/line breaks that copying added to the password.")
    if result.test is not None:
        print_test(console, result.test)
    if result.smtp_switched is not None:
        s = result.smtp_switched
        console.print(f"Saved SMTP as {s.host}:{s.port} ({s.security}), the port that works.")
    if result.account is not None:
        console.print(f"[bold green]Saved[/] account {result.account.name}.", highlight=False)
    else:
        console.print(
            "[bold red]Not saved[/]: fix the problem above and run the command again "
            "(or add --no-test to save anyway).",
            highlight=False,
        )
        flag = pin_flag(result.test) if result.test is not None else None
        if flag is not None:
            console.print(
                "To trust the certificate above (only if you recognise it), add:", highlight=False
            )
            console.print(f"  {flag}", highlight=False, markup=False, soft_wrap=True)


def print_accounts(console: Console, views: list[AccountView]) -> None:
    table = Table("name", "address", "provider", "IMAP", "SMTP", "last test")
    for v in views:
        last = "never" if v.last_test_ok is None else ("ok" if v.last_test_ok else "failed")
        table.add_row(
            v.name,
            v.address,
            v.provider_name or v.source,
            f"{v.imap.host}:{v.imap.port} {v.imap.security}",
            f"{v.smtp.host}:{v.smtp.port} {v.smtp.security}",
            last,
        )
    print_table(console, table, "No accounts yet. Add one with: mailmatch accounts add ADDRESS")


def _when(moment: datetime | None) -> str:
    value = aware(moment)  # SQLite hands back naive datetimes, meant as UTC
    return f"{value:%Y-%m-%d %H:%M:%S %Z}" if value is not None else "?"


def print_account(console: Console, v: AccountView) -> None:
    """One account in full: what the list row leaves out (logins, trust, the last test)."""
    provider = f"{v.provider_name} ({v.source})" if v.provider_name else v.source
    trusted = [f"certificate pinned, SHA-256 {v.cert_fingerprint}"] if v.cert_fingerprint else []
    trusted += [f"CA file {v.ca_file}"] if v.ca_file else []
    trust = "; ".join(trusted) or "the system's trusted certificate authorities"
    if v.last_test_ok is None:
        last = f"never (test it with: mailmatch accounts test {v.name})"
    elif v.last_test_ok:
        last = f"ok, {_when(v.last_test_at)}"
    else:
        last = f"failed, {_when(v.last_test_at)} (see why with: mailmatch accounts test {v.name})"
    lines = [
        f"{v.name} <{v.address}>",
        f"  provider  {provider}",
        f"  IMAP      {v.imap.host}:{v.imap.port} ({v.imap.security}), login {v.username}",
        f"  SMTP      {v.smtp.host}:{v.smtp.port} ({v.smtp.security}), login {v.smtp_username}",
        f"  trusts    {trust}",
        f"  password  saved {_when(v.password_set_at)}",
        f"  last test {last}",
    ]
    for text in lines:
        console.print(text, highlight=False, markup=False, emoji=False, soft_wrap=True)
