"""Reading a rendered report back: headings, visible text, inline SVGs, ids, unsafe markup."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

SVG_NS = "{http://www.w3.org/2000/svg}"
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self._heading: str | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v))
            if k == "id" and v:
                self.ids.append(v)
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading, self._buf = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._heading:
            self.headings.append((tag, " ".join("".join(self._buf).split())))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading:
            self._buf.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def headings(html: str, level: str = "h2") -> list[str]:
    return [t for tag, t in parse(html).headings if tag == level]


def visible_text(html: str) -> str:
    """The page's text with whitespace collapsed (style and SVG included, as a reader's
    search would find them)."""
    return " ".join(" ".join(parse(html).text).split())


def svgs(html: str) -> list[ET.Element]:
    """Every inline SVG, parsed as XML (fails the test when one is not well-formed)."""
    return [ET.fromstring(block) for block in _SVG.findall(html)]


def find_text(el: ET.Element, path: str) -> str:
    """The text of ``el``'s first element at ``path``; fails the test when there is none."""
    found = el.find(path)
    assert found is not None, f"no {path} in <{el.tag}>"
    assert found.text is not None, f"{path} in <{el.tag}> has no text"
    return found.text


def unsafe(html: str) -> list[str]:
    """Markup that would run code or load something from outside: script elements, event
    handler attributes, javascript: URLs, external links and stylesheets."""
    page = parse(html)
    bad = [t for t in page.tags if t in ("script", "iframe", "object", "embed", "link")]
    for tag, k, v in page.attrs:
        if k.startswith("on"):
            bad.append(f"{tag} {k}=")
        if k in ("src", "href", "xlink:href") and v and not v.startswith("#"):
            bad.append(f"{tag} {k}={v}")
    bad += re.findall(r"@import|url\((?!#)", html)
    return bad
