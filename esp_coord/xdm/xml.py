"""Reading XML from outside the team: defusedxml over the stdlib's expat.

``defusedxml`` refuses any document type declaration (``forbid_dtd``): no
internal entity can then be defined, so neither the billion laughs nor the
quadratic blowup (one large entity repeated) can happen; external entities
and external DTDs are refused as well, and expat never opens a file or the
network of its own. What the stdlib parser still allows is bounded here:
the bytes given (the caller's limit), the nesting depth (``MAX_DEPTH``: a
megabyte of ``<a>`` would otherwise be a tree 100,000 levels deep for the
code that walks it) and the number of elements (``MAX_ELEMENTS``). The
parse is incremental (``iterparse``), so a caller may stop as soon as it has
what it needs (the CDA header, never the body).

Element names are compared by their local name: the documents use the
namespaces of their standards (``urn:hl7-org:v3``, ebXML RIM 3.0), but
producers differ in prefixes and in declaring them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "XmlError", "attr", "children", "first", "local",
           "parse", "text_of"]

MAX_DEPTH = 64
MAX_ELEMENTS = 200_000
# Any value kept from a document: longer is cut (names, titles, codes).
MAX_VALUE = 200


class XmlError(ValueError):
    """Not well-formed, forbidden (DTD, entities) or over the bounds. ``reason``
    is English and never quotes the document."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def local(tag: object) -> str:
    """``{urn:hl7-org:v3}id`` -> ``id``."""
    name = tag if isinstance(tag, str) else ""
    return name.rsplit("}", 1)[-1]


def parse(data: bytes, *, stop: Callable[[Element, int], bool] | None = None) -> Element:
    """The root element of ``data``. ``stop(element, depth)`` is called at the
    start of each element (the root is depth 0): when it returns True the
    parse ends there and the root holds what was read before (the stopping
    element itself without its content). XmlError otherwise."""
    depth = 0
    count = 0
    root: Element | None = None
    events: Iterator[tuple[str, Element]] = iterparse(
        io.BytesIO(data), events=("start", "end"), forbid_dtd=True, forbid_entities=True,
        forbid_external=True)
    try:
        for event, element in events:
            if event == "end":
                depth -= 1
                continue
            if root is None:
                root = element
            count += 1
            if count > MAX_ELEMENTS:
                raise XmlError(f"more than {MAX_ELEMENTS} elements")
            if depth > MAX_DEPTH:
                raise XmlError(f"nested deeper than {MAX_DEPTH} levels")
            if stop is not None and stop(element, depth):
                break
            depth += 1
    except XmlError:
        raise
    except DefusedXmlException as e:
        raise XmlError(f"forbidden XML construct ({type(e).__name__})") from None
    except (ParseError, ValueError, UnicodeError) as e:
        raise XmlError(f"not well-formed XML ({type(e).__name__})") from None
    if root is None:
        raise XmlError("empty XML document")
    return root


def children(element: Element, name: str) -> list[Element]:
    return [child for child in element if local(child.tag) == name]


def first(element: Element | None, *path: str) -> Element | None:
    """The first descendant along ``path`` of local names, or None."""
    found = element
    for name in path:
        if found is None:
            return None
        found = next((child for child in found if local(child.tag) == name), None)
    return found


def attr(element: Element | None, name: str) -> str:
    """An attribute, stripped and cut to ``MAX_VALUE``; "" when absent."""
    if element is None:
        return ""
    return " ".join(str(element.get(name, "")).split())[:MAX_VALUE]


def text_of(element: Element | None) -> str:
    """The element's own text (not its children's), single-spaced and cut."""
    if element is None or element.text is None:
        return ""
    return " ".join(element.text[: MAX_VALUE * 4].split())[:MAX_VALUE]
