"""html_to_text: what a reader would see, as plain text for search and matching."""

from __future__ import annotations

import time

import pytest

from mailmatch.ingest.html_text import html_to_text


def test_a_newsletter_reads_as_text() -> None:
    html = """
    <html><head><title>Weekly</title>
      <style>p { color: red }</style><script>var tracking = "<p>";</script></head>
    <body>
      <h1>Hello&nbsp;Jane</h1>
      <p>Prices   from <b>&euro;10</b> &amp; up.<br>Offer ends Friday.</p>
      <!-- hidden <p>comment</p> -->
      <ul><li>One</li><li>Two</li></ul>
      <table><tr><td>Total</td><td>42</td></tr></table>
      <p>Read <a href="https://example.com/more">the full story</a> <img src="x.png" alt="logo"></p>
    </body></html>
    """
    assert html_to_text(html) == (
        "Hello Jane\n\nPrices from €10 & up.\nOffer ends Friday.\n\nOne\nTwo\n\nTotal 42\n\n"
        "Read the full story logo"
    )


def test_entities_are_decoded_after_tags_are_removed() -> None:
    assert html_to_text("<p>&lt;b&gt;not bold&lt;/b&gt; &#8364; &#x263A; &copy</p>") == (
        "<b>not bold</b> € ☺ ©"
    )


def test_pre_keeps_its_line_breaks() -> None:
    assert html_to_text("<p>Log:</p><pre>line 1\nline 2</pre>done") == (
        "Log:\n\nline 1\nline 2\n\ndone"
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<script>never closed <p>text</p>", ""),  # as in a browser: the rest is script
        ("<head><title>t</title>Hi<body>Body", "Body"),  # <body> ends an unclosed head
        ("<html><head><title>t</title>", ""),
        ("a < b and c > d", "a < b and c > d"),  # a lone "<" is text, not a tag
        ('<img alt="5 > 3" src=x>', "5 > 3"),  # ">" inside a quoted attribute
        ("<p>unclosed <b>tags <i>everywhere", "unclosed tags everywhere"),
        ("<!--#rotate> text after an unclosed comment", "text after an unclosed comment"),
        ("<!-- never closed", "<!-- never closed"),  # no ">" at all: just text
        ("", ""),
        ("plain text, no markup", "plain text, no markup"),
    ],
)
def test_broken_html_gives_sensible_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_the_output_is_capped() -> None:
    assert len(html_to_text("<p>word " * 100_000, max_chars=1000)) == 1000


@pytest.mark.parametrize(
    "html",
    ["<a" * 100_000, "<script>" * 50_000, "<head>" * 50_000, '<a "' * 50_000, "<!--" * 50_000],
)
def test_hostile_markup_takes_linear_time(html: str) -> None:
    """Inputs that make naive patterns quadratic (minutes here) finish in well under a second."""
    started = time.perf_counter()
    html_to_text(html)
    assert time.perf_counter() - started < 5


def test_it_never_raises_on_junk() -> None:
    junk = "".join(chr(code) for code in range(0, 0x3000, 7)) + "<\x00p>\ud800&#xdeadbeef;&#0;"
    assert isinstance(html_to_text(junk), str)
