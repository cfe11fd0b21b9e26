"""HTML -> readable plain text, for messages that have no text/plain part.

Why not ``html.parser.HTMLParser``: it calls back into Python for every tag, and on the
SpamAssassin corpus that alone cost ~1.1 s (~0.18 ms per message, as much as the MIME parse)
against an import budget of ~0.3 ms per message. One ``re.split`` over the tags plus C-level
string methods does the same job about five times faster. The output is text for search and
matching, not a rendering, so two approximations are accepted: a ``<`` inside an attribute
value ends the tag early, and ``<pre>`` keeps its line breaks but not its runs of spaces.

Nothing here can go quadratic on hostile input: tag patterns never scan past the next ``<``,
and the comment and hidden-element loops always advance past whatever they searched.
"""

from __future__ import annotations

import html as _html
import re

#: Elements whose content is never shown; ``pre`` is found here too, to keep its newlines.
_HIDDEN = re.compile(r"<(script|style|head|title|noscript|template|pre)\b[^<>]*>", re.I)
_CLOSERS = {
    name: re.compile(rf"</{name}\s*>", re.I)
    for name in ("script", "style", "title", "noscript", "template", "pre")
}
_CLOSERS["head"] = re.compile(r"</head\s*>|(?=<body\b)", re.I)  # <body> ends an unclosed head

#: A tag, split into (name with its "/", attributes); quoted values may hold ">" but not "<".
_TAG = re.compile(r"""<(/?[a-zA-Z][^\s/<>]*)((?:"[^"<]*"|'[^'<]*'|[^<>])*+)>|<[!?][^<>]*>""")
_PARAGRAPH, _LINE = "\x1d", "\x1e"  # marks block edges leave; resolved once tags are gone
_PARAGRAPHS = {"blockquote", "dl", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p"}
_PARAGRAPHS |= {"pre", "table", "ul"}
_LINES = {"address", "article", "aside", "body", "center", "dd", "div", "dt", "fieldset"}
_LINES |= {"figcaption", "footer", "form", "header", "html", "li", "main", "nav", "section"}
_LINES |= {"tbody", "tfoot", "thead", "tr"}
#: What a tag leaves in the text: a paragraph or line mark at block edges (opening and
#: closing tags), a line break for ``<br>``, a space for a table cell; other tags nothing.
_TAG_TEXT = {name: _PARAGRAPH for name in _PARAGRAPHS} | {name: _LINE for name in _LINES}
_TAG_TEXT |= {f"/{name}": mark for name, mark in _TAG_TEXT.items()}
_TAG_TEXT |= {"br": "\n", "td": " ", "th": " "}
#: Adjacent block edges make one break: a blank line if any edge is a paragraph, else a line
#: break. So "</li><li>" is one line break and "</p><p>" one blank line (but "<br><br>" two).
_MARKS = re.compile(r"[\x1d\x1e][\x1d\x1e ]*+")
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)


def _uncommented(html: str) -> str:
    """Drop ``<!-- ... -->`` comments; an unclosed ``<!--`` is not treated as a comment.

    A browser would hide everything after an unclosed ``<!--``; spam uses that
    (``<!--#rotate>`` before the whole text), and for search the text matters more than
    fidelity, so only the opener goes (with the other ``<!...>`` declarations, as a tag).
    """
    out: list[str] = []
    pos = 0
    while (start := html.find("<!--", pos)) >= 0 and (end := html.find("-->", start + 4)) >= 0:
        out.append(html[pos:start])
        pos = end + 3
    out.append(html[pos:])
    return "".join(out)


def _visible(html: str) -> str:
    """Drop hidden elements; turn the newlines inside ``<pre>`` into ``<br>`` to keep them.

    A loop over ``search`` rather than one ``<x>.*?</x>`` pattern: with an unclosed element
    that pattern rescans to the end for every opener (quadratic); here an unclosed element
    hides the rest of the document, as it does in a browser, and the loop ends.
    """
    out: list[str] = []
    pos = 0
    head_closes = True  # once a search for </head> fails, every later one would fail too
    while (opener := _HIDDEN.search(html, pos)) is not None:
        out.append(html[pos : opener.start()])
        name = opener.group(1).lower()
        closer = None
        if name != "head" or head_closes:
            closer = _CLOSERS[name].search(html, opener.end())
        if name == "head" and closer is None:
            head_closes = False
            pos = opener.end()  # neither </head> nor <body>: drop only the tag itself
            continue
        if name == "pre":
            content = html[opener.end() : closer.start() if closer else len(html)]
            out.append("<p>" + content.replace("\n", "<br>") + "</p>")
        pos = closer.end() if closer else len(html)
    out.append(html[pos:])
    return "".join(out)


def _replace_tags(text: str) -> str:
    """Tags out, line breaks and ``alt`` texts in: one split, one pass over the pieces."""
    parts = _TAG.split(text)  # text, name, attributes, text, name, attributes, ..., text
    pieces = [parts[0]]
    for index in range(1, len(parts), 3):
        name = parts[index]
        if name is not None:
            name = name.lower()
            replacement = _TAG_TEXT.get(name)
            if replacement is not None:
                pieces.append(replacement)
            elif name == "img" and (alt := _ALT.search(parts[index + 1])) is not None:
                pieces.append(f" {next(group for group in alt.groups() if group is not None)} ")
        pieces.append(parts[index + 2])
    return "".join(pieces)


def _break(marks: re.Match[str]) -> str:
    return "\n\n" if _PARAGRAPH in marks.group(0) else "\n"


def html_to_text(html: str, *, max_chars: int = 200_000) -> str:
    """Readable text of an HTML document; never raises.

    Hidden elements (script, style, head) are dropped, block elements and ``<br>`` become line
    breaks, table cells a space, images their ``alt`` text, links their text; entities are
    decoded and whitespace collapsed (at most one blank line in a row). The input is cut at
    ``4 * max_chars`` first: markup makes HTML longer than its text, and the cut bounds work.
    """
    try:
        text = html[: 4 * max_chars]
        if "<!--" in text:
            text = _uncommented(text)
        # Source whitespace, newlines included, is one space in HTML. (str.split also counts
        # the mark characters as whitespace, so marks can only come from tags.)
        text = _replace_tags(" ".join(_visible(text).split()))
        if "&" in text:
            text = _html.unescape(text)
        text = _MARKS.sub(_break, text)
        lines: list[str] = []
        for line in text.split("\n"):
            line = " ".join(line.split())  # also folds the NBSPs that &nbsp; became
            if line or (lines and lines[-1]):
                lines.append(line)
        return "\n".join(lines).strip()[:max_chars]
    except Exception:  # a bug here must not cost the message its body: crude fallback
        try:
            return " ".join(_TAG.sub(" ", html[:max_chars]).split())
        except Exception:
            return ""
