"""A small Wadler/Lindig-style pretty printer: documents of text, breaks, nesting and groups.

A *group* prints on one line when all of it fits in the remaining width; otherwise each break directly
inside it becomes a newline (indented by the enclosing nests) and inner groups decide for themselves.

Example:
    >>> doc = group(text("[") + nest(2, brk("") + join(brk(), [text("a=1"), text("b=2")])) + brk("") + text("]"))
    >>> doc.format(width=80)
    '[a=1 b=2]'
"""

from __future__ import annotations

from collections.abc import Iterable


class Doc:
    """A pretty-printing document. Combine with ``+``; render with ``format``."""

    __slots__ = ()

    def __add__(self, other: Doc) -> Doc:
        return Concat((self, other))

    def format(self, width: int = 80) -> str:
        return _format(self, width)

    def __str__(self) -> str:
        return self.format()


class Text(Doc):
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class Break(Doc):
    """A space (or ``text``) when its group is flat, a newline otherwise."""

    __slots__ = ("text",)

    def __init__(self, text: str = " "):
        self.text = text


class Concat(Doc):
    __slots__ = ("children",)

    def __init__(self, children: Iterable[Doc]):
        self.children = tuple(children)


class Nest(Doc):
    __slots__ = ("indent", "child")

    def __init__(self, indent: int, child: Doc):
        self.indent = indent
        self.child = child


class Group(Doc):
    __slots__ = ("child",)

    def __init__(self, child: Doc):
        self.child = child


def text(s: str) -> Doc:
    return Text(s)


def brk(s: str = " ") -> Doc:
    return Break(s)


def nest(indent: int, child: Doc) -> Doc:
    return Nest(indent, child)


def group(child: Doc) -> Doc:
    return Group(child)


def concat(docs: Iterable[Doc]) -> Doc:
    return Concat(docs)


def join(separator: Doc, docs: Iterable[Doc]) -> Doc:
    parts: list[Doc] = []
    for i, d in enumerate(docs):
        if i:
            parts.append(separator)
        parts.append(d)
    return Concat(parts)


def nil() -> Doc:
    return Concat(())


def _flat_width(doc: Doc, limit: int) -> int:
    """Width of ``doc`` printed flat, stopping early once it exceeds ``limit``."""
    total = 0
    stack = [doc]
    while stack and total <= limit:
        d = stack.pop()
        if isinstance(d, Text):
            if "\n" in d.text:
                return limit + 1
            total += len(d.text)
        elif isinstance(d, Break):
            total += len(d.text)
        elif isinstance(d, Concat):
            stack.extend(reversed(d.children))
        else:  # Nest, Group
            stack.append(d.child)
    return total


def _format(doc: Doc, width: int) -> str:
    out: list[str] = []
    column = 0
    # Agenda of (indent, flat, doc); processed last-in first-out.
    agenda: list[tuple[int, bool, Doc]] = [(0, False, doc)]
    while agenda:
        indent, flat, d = agenda.pop()
        if isinstance(d, Text):
            out.append(d.text)
            column += len(d.text)
        elif isinstance(d, Break):
            if flat:
                out.append(d.text)
                column += len(d.text)
            else:
                out.append("\n" + " " * indent)
                column = indent
        elif isinstance(d, Concat):
            agenda.extend((indent, flat, c) for c in reversed(d.children))
        elif isinstance(d, Nest):
            agenda.append((indent + d.indent, flat, d.child))
        elif isinstance(d, Group):
            fits = flat or _flat_width(d.child, width - column) <= width - column
            agenda.append((indent, fits, d.child))
    return "".join(out)
