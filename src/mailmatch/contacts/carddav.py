"""Contacts from a CardDAV server (iCloud, Nextcloud, Fastmail, Radicale, Baïkal...).

A small client on httpx, because all an import needs is discovery and one read of every card:

1. **Discovery** (RFC 6764, RFC 6352 §7.1): from a base URL, ``/.well-known/carddav`` (servers
   redirect it to their DAV root), then ``PROPFIND`` for ``current-user-principal``, then for the
   principal's ``addressbook-home-set``, then ``PROPFIND Depth: 1`` there for the collections whose
   ``resourcetype`` is ``addressbook``. A URL that already points at a principal, a home set or an
   address book works as well: each step is skipped once its answer is known.
2. **Cards**: ``REPORT addressbook-query`` with ``address-data`` gets all cards of a book in one
   request. Servers that refuse it, or answer it with nothing, get ``PROPFIND`` for the member
   list and ``REPORT addressbook-multiget`` in batches.

The cards are parsed by :mod:`mailmatch.contacts.vcard`; each contact's ``source_id`` is the
absolute URL of its card (stable for re-sync) and ``custom["addressbook"]`` the book's name.

**iCloud**: the URL is ``https://contacts.icloud.com``, the user name the Apple ID email, and the
password the same *app-specific password* used for iCloud Mail (appleid.apple.com → Sign-In and
Security → App-Specific Passwords); the account password is refused. iCloud answers from other
hosts (``pNN-contacts.icloud.com``) after discovery, which is why hrefs are resolved as URLs.

XML from the server is parsed with defusedxml (no entity expansion bombs). Redirects are followed
here rather than by httpx so the credentials go along to the discovered host, but never from
``https`` down to ``http``. The password is never logged or put into an error.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import httpx

from mailmatch.contacts.records import ImportedRecords
from mailmatch.contacts.vcard import VCardItem, read_vcard_items
from mailmatch.errors import MailmatchError

__all__ = ["CardDavError", "fetch_address_books"]

DAV = "{DAV:}"
CARD = "{urn:ietf:params:xml:ns:carddav}"
_MAX_REDIRECTS = 5
_MULTIGET_BATCH = 100

_AUTH_ADVICE = [
    "Check the user name: for iCloud it is your Apple ID email address.",
    "Use an app-specific password where the provider requires one (iCloud, Fastmail, Google "
    "with 2-step verification); for iCloud it is the same one mailmatch uses for iCloud Mail.",
    "Check that the password has not been revoked or mistyped (no spaces).",
    "A 403 means the login worked but this account may not read that address book.",
]
_SERVER_ADVICE = [
    "Check the URL: the server's base URL (e.g. https://contacts.icloud.com) or the address "
    "book's own URL.",
    "If the server reports a temporary problem (HTTP 5xx), try again later.",
]


class CardDavError(MailmatchError):
    """A CardDAV request failed. ``code`` is "auth_failed" (HTTP 401/403), "not_found" (no
    address book), a transport code ("timeout", "host_not_found", "connection_refused",
    "tls_error") or "server_error" (anything else)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        advice: list[str] | None = None,
    ) -> None:
        super().__init__(message, advice=advice)
        self.code = code
        self.status = status


@dataclass
class _Response:
    """One ``<response>`` of a multistatus: its URL and the properties found (status 200)."""

    url: httpx.URL
    props: dict[str, Element] = field(default_factory=dict)

    def href(self, prop: str) -> httpx.URL | None:
        """The URL inside an href-valued property (current-user-principal, home set)."""
        element = self.props.get(prop)
        text = element.findtext(f"{DAV}href") if element is not None else None
        return self.url.join(text.strip()) if text and text.strip() else None

    def is_a(self, resourcetype: str) -> bool:
        element = self.props.get(f"{DAV}resourcetype")
        return element is not None and element.find(resourcetype) is not None


def fetch_address_books(
    url: str,
    username: str,
    password: str,
    *,
    verify: bool | str = True,
    timeout: float = 15,
) -> ImportedRecords:
    """Discover the user's address books from ``url`` and read every card in them.

    For iCloud: ``https://contacts.icloud.com``, the Apple ID email and the app-specific password
    already used for iCloud Mail. ``verify`` is True (system trust), False (no check: testing
    only) or a CA file/directory. Raises :class:`CardDavError`.
    """
    base = httpx.URL(url if "://" in url else f"https://{url}").copy_with(
        username=None, password=None
    )
    context: bool | ssl.SSLContext = verify if isinstance(verify, bool) else _ca_context(verify)
    with httpx.Client(
        auth=httpx.BasicAuth(username, password),
        verify=context,
        timeout=timeout,
        headers={"User-Agent": "mailmatch"},
    ) as client:
        dav = _Dav(client, username, base.host)
        books = dav.discover(base)
        if not books:
            raise CardDavError(
                f"No address book found from {base}",
                code="not_found",
                advice=["Check the URL, or give the address book's own URL.", *_SERVER_ADVICE],
            )
        items: list[VCardItem] = []
        book_of: dict[str, str] = {}
        for book, name in books:
            for item in dav.cards(book):
                items.append(item)
                book_of[item.source_id or ""] = name
    result = read_vcard_items(items, source="carddav")
    for contact in result.contacts:
        if book_name := book_of.get(contact.source_id or ""):
            contact.custom.setdefault("addressbook", book_name)
    return result


def _ca_context(path: str) -> ssl.SSLContext:
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)


# Parents that many unrelated sites share: a redirect within them is not "the same site".
_SHARED_SUFFIXES = frozenset({"co.uk", "org.uk", "com.au", "co.jp", "com.br", "co.nz", "co.in"})


class _Dav:
    """The WebDAV requests of one import, on one authenticated client."""

    def __init__(self, client: httpx.Client, username: str, origin: str = "") -> None:
        self.client = client
        self.username = username
        self.origin = origin.lower()  # the host the user named: redirects stay near it

    def _trusted(self, host: str) -> bool:
        """Whether the password may follow a redirect to ``host``.

        The same host, or a sibling under the same parent domain (iCloud sends
        contacts.icloud.com to pNN-contacts.icloud.com); never an unrelated site.
        """
        host = host.lower()
        if not self.origin or host == self.origin:
            return True
        if self.origin.replace(".", "").isdigit() or ":" in self.origin:
            return False  # an IP address: only itself
        parent = self.origin.partition(".")[2]
        if parent.count(".") < 1 or parent in _SHARED_SUFFIXES:
            return False
        return host.endswith("." + parent)

    # -- discovery -----------------------------------------------------------------------------

    def discover(self, base: httpx.URL) -> list[tuple[httpx.URL, str]]:
        """(URL, display name) of every address book reachable from ``base``."""
        well_known = base.join("/.well-known/carddav")
        starts = [well_known, base] if base.path in ("", "/") else [base, well_known]
        errors: list[CardDavError] = []
        for start in starts:
            try:
                books = self._books_from(start)
            except CardDavError as exc:
                if exc.code != "server_error":  # a wrong password stays wrong elsewhere
                    raise
                # the user's own URL failing says more than the well-known one failing
                errors.insert(0 if start == base else len(errors), exc)
                continue
            if books:
                return books
        if errors:
            raise errors[0]
        return []

    def _books_from(self, start: httpx.URL) -> list[tuple[httpx.URL, str]]:
        props = ["current-user-principal", "resourcetype", "displayname", "C:addressbook-home-set"]
        here = self._propfind_one(start, props)
        if here.is_a(f"{CARD}addressbook"):
            return [(here.url, _display_name(here))]
        home = here.href(f"{CARD}addressbook-home-set")
        principal = here.href(f"{DAV}current-user-principal")
        if home is None and principal is not None:
            home = self._propfind_one(principal, ["C:addressbook-home-set"]).href(
                f"{CARD}addressbook-home-set"
            )
        return self._books_in(home or here.url)

    def _books_in(self, home: httpx.URL) -> list[tuple[httpx.URL, str]]:
        responses = self._propfind(home, ["resourcetype", "displayname"], depth="1")
        return [(r.url, _display_name(r)) for r in responses if r.is_a(f"{CARD}addressbook")]

    # -- cards ---------------------------------------------------------------------------------

    def cards(self, book: httpx.URL) -> list[VCardItem]:
        """Every card of one address book: a query, else the member list and multigets."""
        body = _xml(
            "C:addressbook-query",
            "<D:prop><D:getetag/><C:address-data/></D:prop><C:filter/>",
        )
        response, url = self._send("REPORT", book, depth="1", body=body)
        items: list[VCardItem] = []
        missing: list[httpx.URL] = []
        if response.status_code == 207:
            for r in _multistatus(response, url):
                if _same(r.url, url) or r.is_a(f"{DAV}collection"):
                    continue
                if item := _card_item(r):
                    items.append(item)
                else:
                    missing.append(r.url)
        if not items and not missing:  # refused (4xx/5xx) or empty: list the members
            members = self._propfind(book, ["resourcetype"], depth="1")
            missing = [
                r.url for r in members if not _same(r.url, book) and not r.is_a(f"{DAV}collection")
            ]
        for start in range(0, len(missing), _MULTIGET_BATCH):
            items += self._multiget(book, missing[start : start + _MULTIGET_BATCH])
        return items

    def _multiget(self, book: httpx.URL, urls: list[httpx.URL]) -> list[VCardItem]:
        hrefs = "".join(f"<D:href>{escape(u.raw_path.decode('ascii'))}</D:href>" for u in urls)
        body = _xml(
            "C:addressbook-multiget",
            f"<D:prop><D:getetag/><C:address-data/></D:prop>{hrefs}",
        )
        response, url = self._send("REPORT", book, depth="1", body=body)
        self._expect_multistatus(response, "REPORT", url)
        return [item for r in _multistatus(response, url) if (item := _card_item(r))]

    # -- requests ------------------------------------------------------------------------------

    def _propfind_one(self, url: httpx.URL, props: list[str]) -> _Response:
        responses = self._propfind(url, props, depth="0")
        return next((r for r in responses if _same(r.url, url)), responses[0])

    def _propfind(self, url: httpx.URL, props: list[str], *, depth: str) -> list[_Response]:
        names = "".join(f"<{p if ':' in p else 'D:' + p}/>" for p in props)
        body = _xml("D:propfind", f"<D:prop>{names}</D:prop>")
        response, final = self._send("PROPFIND", url, depth=depth, body=body)
        self._expect_multistatus(response, "PROPFIND", final)
        responses = _multistatus(response, final)
        if not responses:
            raise CardDavError(
                f"PROPFIND {final} answered an empty multistatus",
                code="server_error",
                status=response.status_code,
                advice=_SERVER_ADVICE,
            )
        return responses

    def _send(
        self, method: str, url: httpx.URL, *, depth: str, body: bytes
    ) -> tuple[httpx.Response, httpx.URL]:
        """One request, following redirects with the credentials (https never to http)."""
        headers = {"Depth": depth, "Content-Type": 'application/xml; charset="utf-8"'}
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                response = self.client.request(method, url, headers=headers, content=body)
            except httpx.TransportError as exc:
                raise _transport_error(exc, method, url) from None
            location = response.headers.get("location")
            if response.is_redirect and location:
                target = url.join(location)
                if url.scheme == "https" and target.scheme != "https":
                    raise CardDavError(
                        f"{method} {url} redirected to {target}: refusing to send the "
                        "password over plain http",
                        code="server_error",
                        status=response.status_code,
                        advice=_SERVER_ADVICE,
                    )
                if not self._trusted(target.host):
                    raise CardDavError(
                        f"{method} {url} redirected to {target.host}: refusing to send the "
                        "password to another site",
                        code="server_error",
                        status=response.status_code,
                        advice=_SERVER_ADVICE,
                    )
                url = target
                continue
            if response.status_code in (401, 403):
                raise CardDavError(
                    f"The CardDAV server refused {self.username!r}: HTTP "
                    f"{response.status_code} {response.reason_phrase} ({method} {url})",
                    code="auth_failed",
                    status=response.status_code,
                    advice=_AUTH_ADVICE,
                )
            return response, url
        raise CardDavError(
            f"{method} {url}: more than {_MAX_REDIRECTS} redirects",
            code="server_error",
            advice=_SERVER_ADVICE,
        )

    @staticmethod
    def _expect_multistatus(response: httpx.Response, method: str, url: httpx.URL) -> None:
        if response.status_code != 207:
            raise CardDavError(
                f"{method} {url} failed: HTTP {response.status_code} {response.reason_phrase}"
                f"{_excerpt(response)}",
                code="server_error",
                status=response.status_code,
                advice=_SERVER_ADVICE,
            )


def _xml(root: str, inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<{root} xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">{inner}</{root}>'
    ).encode()


def _multistatus(response: httpx.Response, url: httpx.URL) -> list[_Response]:
    """The responses of a 207 body; hrefs resolved against the URL that answered."""
    try:
        root: Any = SafeET.fromstring(response.content)
    except Exception as exc:  # ParseError, or defusedxml refusing entities/DTDs
        raise CardDavError(
            f"{url} answered with XML that cannot be read ({type(exc).__name__}: {exc})",
            code="server_error",
            status=response.status_code,
            advice=_SERVER_ADVICE,
        ) from None
    responses: list[_Response] = []
    for element in root.iter(f"{DAV}response"):
        href = (element.findtext(f"{DAV}href") or "").strip()
        if not href:
            continue
        found = _Response(url.join(href))
        for propstat in element.findall(f"{DAV}propstat"):
            status = (propstat.findtext(f"{DAV}status") or "").split()
            prop = propstat.find(f"{DAV}prop")
            if len(status) > 1 and status[1] == "200" and prop is not None:
                found.props.update((child.tag, child) for child in prop)
        responses.append(found)
    return responses


def _card_item(response: _Response) -> VCardItem | None:
    element = response.props.get(f"{CARD}address-data")
    text = element.text if element is not None else None
    if not text or not text.strip():
        return None
    return VCardItem(ident=str(response.url), text=text, source_id=str(response.url))


def _display_name(response: _Response) -> str:
    element = response.props.get(f"{DAV}displayname")
    name = (element.text or "").strip() if element is not None else ""
    return name or response.url.path.rstrip("/").rpartition("/")[2]


def _same(a: httpx.URL, b: httpx.URL) -> bool:
    """Same resource, ignoring a trailing slash and percent-encoding differences."""
    return (a.host, a.port, a.path.rstrip("/")) == (b.host, b.port, b.path.rstrip("/"))


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:200] if response.content else ""
    return f": {text}" if text else ""


def _transport_error(exc: httpx.TransportError, method: str, url: httpx.URL) -> CardDavError:
    """Name the network failure the way the rest of mailmatch does (errors.Code values)."""
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        code, what = "timeout", f"no answer within the timeout from {url.host}"
    elif any(isinstance(c, ssl.SSLError) for c in causes):
        code, what = "tls_error", f"TLS with {url.host} failed"
    elif any(isinstance(c, socket.gaierror) for c in causes):
        code, what = "host_not_found", f"{url.host} was not found"
    elif any(isinstance(c, ConnectionRefusedError) for c in causes):
        code, what = "connection_refused", f"{url.host}:{url.port or ''} refused the connection"
    else:
        code, what = "server_error", f"the connection to {url.host} failed"
    return CardDavError(
        f"{method} {url}: {what} ({exc})",
        code=code,
        advice=["Check the URL and your network connection.", *_SERVER_ADVICE],
    )
